"""Benchmark of the optimizer experiment: hand-rolled vs optax transforms, jaxdl vs NumPy, FLOP/s.

    python -m experiments.bench_optimizers --data-dir ../shared/data/mnist --out runs/bench_optimizers

(a) Step time: each hand-rolled transform of jaxdl.optim against the optax built-in of the
    same rule, each inside the experiment's compiled program (MultiLayerNet [40, 20], batch
    100, --seeds vmapped seeds, --step-steps steps, one evaluation on a 100-image test slice
    so training steps dominate); best (and median) of --repeats interleaved runs, compile
    excluded; and XLA's FLOP count of one train step of each, which no machine load disturbs.
    Acceptance: hand-rolled <= 1.05 x optax.
(b) Cold process: `python -m experiments.optimizers` for the 5 seed optimizers x 10 seeds,
    1000 steps, evaluations every 10 steps on all 10,000 test images, as a fresh process
    (interpreter start, imports, compiles and runs; its own data-loading time subtracted),
    against the same 50 runs of the course code in NumPy (`python -m jaxdl.bench.numpy_course
    optimizers`: jaxdl.reference's course network and loop, float64, the notebook's optimizer
    loops from jaxdl.reference.optimizers; seed s draws the same
    weights and batches on both sides, so their final accuracies are compared too), in a process
    without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they halve NumPy's matmul speed). --numpy-runs
    times fewer NumPy runs and scales. Acceptance: >= 3x.
(c) Achieved FLOP/s of (b)'s runs: XLA's FLOP count of one train step and one evaluation
    (lowered alone: XLA counts a loop body once) times their counts, over the run time
    (compile excluded), against a float32 2048^3 GEMM timed here. Acceptance: >= 40%.
Prints the tables and writes bench_optimizers.json into --out.
"""

import argparse
import json
import os
import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import cli, optim, report
from jaxdl.bench.flops import gemm_flops_per_s, xla_flops
from jaxdl.bench.harness import REPO, flops_per_s, fraction_of_gemm, numpy_environment, python_module, spawn
from jaxdl.course import optimizers
from jaxdl.course.experiment import load_data
from jaxdl.train.compile import compiler_options
from jaxdl.train.run import Schedule
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import make_eval_step, make_train_step

# (hand-rolled spec, optax spec, hyperparameters both get): every hand-written rule of jaxdl.optim
# (course, chainer and seed share rules.py; notebook:adagrad has its own) with the 2_4 learning rates.
PAIRS = (
    ("notebook:sgd", "optax:sgd", {"learning_rate": 0.01}),
    ("notebook:momentum", "optax:momentum", {"learning_rate": 0.3, "momentum": 0.9}),
    ("course:nesterov", "optax:nesterov", {"learning_rate": 0.3, "momentum": 0.9}),
    ("course:adagrad", "optax:adagrad", {"learning_rate": 0.1}),
    ("notebook:adagrad", "optax:adagrad", {"learning_rate": 0.1}),
    ("notebook:rmsprop", "optax:rmsprop", {"learning_rate": 0.01, "decay_rate": 0.99}),
    ("notebook:adam", "optax:adam", {"learning_rate": 0.01}),
)
COURSE_STEPS, COURSE_BATCH, COURSE_EVAL_EVERY, COMPARISON_SEEDS = 1000, 100, 10, 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "bench_optimizers")
    parser.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    parser.add_argument("--out", type=cli.output_folder, default=None, help="folder for bench_optimizers.json")
    parser.add_argument("--parts", nargs="+", choices=["step", "process"], default=["step", "process"],
                        help="step: (a); process: (b) and (c)")
    parser.add_argument("--seeds", type=int, default=COMPARISON_SEEDS, help="vmapped seeds in (a)")
    parser.add_argument("--step-steps", type=int, default=300, help="training steps per timed run in (a)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per program in (a); the best counts")
    parser.add_argument("--numpy-runs", type=int, default=None,
                        help="time this many of the 50 NumPy runs and scale (default: all 50)")
    return parser.parse_args(argv)


def step_times(args: argparse.Namespace) -> list[dict]:
    """(a): per-step microseconds of each hand-rolled transform and its optax twin, each in its own
    program built as the experiment builds it, and XLA's FLOP count of one train step of each."""
    data = load_mnist(args.data_dir, test_limit=100)
    schedule = Schedule(args.step_steps, COURSE_BATCH, args.step_steps)
    model = optimizers.course_network(784, (40, 20), batchnorm=False)
    inputs = optimizers.course_seed_inputs(model, list(range(args.seeds)), schedule, data.train_images.shape[0])
    batch = Batch(jnp.zeros((COURSE_BATCH, 784)), jnp.zeros(COURSE_BATCH, jnp.int32))
    hparams = {spec: hp for hand, twin, hp in PAIRS for spec in (hand, twin)}
    executables, step_flops = {}, {}
    for spec, hp in hparams.items():
        task = Task(model, optim.create(spec, **hp), trainable="affine")
        step_flops[spec] = xla_flops(make_train_step(task), task.init(jax.random.key(0), batch.images), batch)
        program = optimizers.comparison_program({spec: task}, schedule)
        executables[spec] = program.lower(inputs, data).compile(compiler_options=compiler_options())
    times = {spec: [] for spec in hparams}
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit every program alike
        for spec, executable in executables.items():
            started = time.perf_counter()
            jax.block_until_ready(executable(inputs, data))
            times[spec].append((time.perf_counter() - started) / args.step_steps * 1e6)
    rows = []
    for hand, twin, _ in PAIRS:
        ratio = min(times[hand]) / min(times[twin])
        rows.append({"hand_rolled": hand, "optax": twin, "hand_rolled_us_per_step": min(times[hand]),
                     "optax_us_per_step": min(times[twin]), "ratio": ratio, "pass": ratio <= 1.05,
                     "hand_rolled_us_median": float(np.median(times[hand])),
                     "optax_us_median": float(np.median(times[twin])),
                     "hand_rolled_step_flops": step_flops[hand], "optax_step_flops": step_flops[twin]})
    return rows


def load_mnist(data_dir: str | None, test_limit: int | None = None):
    """MNIST as the experiment loads it (its first `test_limit` test images), through its own API."""
    return load_data(optimizers.Config(data_dir=data_dir), test_limit=test_limit)


def cold_process(args: argparse.Namespace) -> dict:
    """(b) and (c): the 50-run comparison as a fresh jaxdl process and as NumPy, and the FLOP rate achieved."""
    data_flags = ["--data-dir", args.data_dir] if args.data_dir else []
    with tempfile.TemporaryDirectory() as out:
        wall = spawn(python_module("experiments.optimizers", "--seeds", str(COMPARISON_SEEDS), "--out", out,
                                   *data_flags), cwd=REPO).wall_s
        result = json.loads((pathlib.Path(out) / "results.json").read_text())
    jax_s = wall - result["load_s"]
    total = COMPARISON_SEEDS * len(optimizers.DEFAULT_OPTIMIZERS)
    numpy_runs = min(args.numpy_runs or total, total)
    numpy_process = spawn(python_module("jaxdl.bench.numpy_course", "optimizers", "--specs",
                                        *optimizers.DEFAULT_OPTIMIZERS, "--seeds", str(COMPARISON_SEEDS),
                                        "--runs", str(numpy_runs), "--steps", str(COURSE_STEPS), "--eval-every",
                                        str(COURSE_EVAL_EVERY), *data_flags), env=numpy_environment(), cwd=REPO)
    child = numpy_process.json()
    numpy_s = (numpy_process.wall_s - child["data_s"]) * total / numpy_runs
    run_s = result["run_s"]
    jax_final = {r["optimizer"]: r["final_test_accuracy"] for r in result["runs"]}  # indexed by seed
    gap = max(abs(jax_final[f["optimizer"]][f["seed"]] - f["final_test_accuracy"]) for f in child["final"])
    flops = sum(comparison_flops(spec) for spec in optimizers.DEFAULT_OPTIMIZERS) * COMPARISON_SEEDS
    gemm = gemm_flops_per_s()
    return {
        "runs": total, "jaxdl_process_s": jax_s, "jaxdl_load_s": result["load_s"],
        "jaxdl_compile_s": result["compile_s"], "jaxdl_run_s": run_s,
        "jaxdl_final_test_accuracy_median": {r["optimizer"]: r["final_test_accuracy_median"] for r in result["runs"]},
        "numpy_runs_timed": numpy_runs, "numpy_s": numpy_s, "numpy_child": child,
        "max_final_accuracy_gap_vs_numpy": gap,  # the same runs (same seeds' weights and batches) in both
        "speedup": numpy_s / jax_s, "speedup_pass": numpy_s / jax_s >= 3,
        "flops": flops, "gemm_flops_per_s": gemm, "flops_per_s_run": flops_per_s(flops, run_s),
        "fraction_of_gemm_run": fraction_of_gemm(flops, run_s, gemm),
        "fraction_pass": fraction_of_gemm(flops, run_s, gemm) >= 0.4,
        "flops_per_s_process": flops_per_s(flops, jax_s),
    }


def comparison_flops(spec: str) -> float:
    """XLA's FLOPs for one seed of `spec` in the comparison: 1000 train steps, 100 evaluations
    each on the step's batch and on the 10,000 test images."""
    model = optimizers.course_network(784, (40, 20), batchnorm=False)
    task = Task(model, optim.create(spec), trainable="affine")
    state = task.init(jax.random.key(0), jnp.zeros((1, 784)))
    batch = Batch(jnp.zeros((COURSE_BATCH, 784)), jnp.zeros(COURSE_BATCH, jnp.int32))
    test = Batch(jnp.zeros((10000, 784)), jnp.zeros(10000, jnp.int32))
    evals = COURSE_STEPS // COURSE_EVAL_EVERY
    eval_step = make_eval_step(task)
    return (COURSE_STEPS * xla_flops(make_train_step(task), state, batch)
            + evals * (xla_flops(eval_step, state, batch) + xla_flops(eval_step, state, test)))


def print_tables(results: dict) -> None:
    if "step" in results:
        rows = [(r["hand_rolled"], r["optax"], f"{r['hand_rolled_us_per_step']:.0f} ({r['hand_rolled_us_median']:.0f})",
                 f"{r['optax_us_per_step']:.0f} ({r['optax_us_median']:.0f})", f"{r['ratio']:.3f}",
                 "yes" if r["pass"] else "NO", f"{r['hand_rolled_step_flops'] / r['optax_step_flops']:.3f}")
                for r in results["step"]]
        print(f"(a) step time, {results['settings']['seeds']} vmapped seeds, best (median) of "
              f"{results['settings']['repeats']} runs of {results['settings']['step_steps']} steps:")
        print(report.markdown_table(["hand-rolled", "optax", "hand-rolled us/step", "optax us/step",
                                     "ratio of best", "<= 1.05", "train-step FLOP ratio (XLA)"], rows))
    if "process" in results:
        p = results["process"]
        print(report.markdown_table(
            ["runs", "NumPy s", "jaxdl s (cold process)", "speedup (>= 3)", "GFLOP", "GFLOP/s in runs",
             "GEMM GFLOP/s", "of GEMM (>= 40%)", "max final-accuracy gap to NumPy"],
            [(p["runs"], f"{p['numpy_s']:.1f}" + ("" if p["numpy_runs_timed"] == p["runs"]
                                                  else f" (scaled from {p['numpy_runs_timed']})"),
              f"{p['jaxdl_process_s']:.1f}", f"{p['speedup']:.1f}x", f"{p['flops'] / 1e9:.0f}",
              f"{p['flops_per_s_run'] / 1e9:.1f}", f"{p['gemm_flops_per_s'] / 1e9:.1f}",
              f"{p['fraction_of_gemm_run']:.0%}", f"{p['max_final_accuracy_gap_vs_numpy']:.4f}")]))


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    print(f"bench_optimizers: parts {' '.join(args.parts)}" + (f"; outputs in {args.out}" if args.out else ""),
          flush=True)
    results = {"settings": {"seeds": args.seeds, "step_steps": args.step_steps, "repeats": args.repeats},
               "environment": report.environment(), "load_average_before": os.getloadavg()}
    if "step" in args.parts:
        results["step"] = step_times(args)
    if "process" in args.parts:
        results["process"] = cold_process(args)
    results["load_average_after"] = os.getloadavg()  # other processes on the machine skew every timing
    print_tables(results)
    print(f"load average (1, 5, 15 min) before {results['load_average_before']}, after {results['load_average_after']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report.write_json(args.out / "bench_optimizers.json", results)
        cli.report_outputs(args.out)
    return results


if __name__ == "__main__":
    cli.run(main)
