"""Benchmark: the course experiments (batch_norm, overfitting, convnets) in jaxdl against NumPy.

    python -m experiments.bench_course --out runs/bench_course --data-dir ../shared/data/mnist --seeds 5

For each experiment: the jaxdl CLI as one whole process (all its configs, seeds in one
program per config, outputs kept under --out/<experiment>), and the NumPy reference (the
book's layers and loops, `python -m jaxdl.bench.numpy_course course`) as another process,
with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment (they halve NumPy's
matmul speed). The NumPy loops run --numpy-steps steps per config (evaluating every 10 as the
course does) and are scaled linearly to the course's step counts; the per-run NumPy time adds
the process's start and data load. Per run = total / (configs x seeds).
Achieved FLOP rate: XLA's cost analysis of the train step and the evaluation steps, each
lowered alone, times their counts, over the jaxdl process's wall time and over its compiled
runs' time, against a float32 GEMM timed in this process.
Prints a table and writes bench.json into --out.
"""

import argparse
import json
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdl import cli, report
from jaxdl.atomic import atomic_write
from jaxdl.bench.flops import gemm_flops_per_s, xla_flops
from jaxdl.bench.harness import flops_per_s, fraction_of_gemm, numpy_environment, python_module, spawn
from jaxdl.course import batch_norm, convnets, overfitting
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import make_eval_step, make_train_step

EVAL_EVERY = 10  # the course's plot_interval in 2_3, 2_5 and 2_6-2_8


class Workload(NamedTuple):
    """One config's counts: what its compiled run executes, per seed."""
    name: str
    task: Task
    steps: int
    eval_sizes: tuple[int, ...]  # examples in each evaluation: the batch, the test set, [the training set]
    numpy_config: dict


def batch_norm_workloads(n_test: int) -> list[Workload]:
    out = []
    for config in batch_norm.CONFIGS:
        numpy_config = None
        if config.batchnorm in (None, "course"):  # the NumPy reference has the course's batch norm only
            numpy_config = {"kind": "mlp", "name": config.name, "hidden": [40, 20], "activation": "sigmoid",
                            "weight_init": "Xavier", "batchnorm": config.batchnorm is not None, "dropout": 0.0,
                            "weight_decay": 0.0, "l1": 0.0, "trainable": config.trainable, "optimizer": "sgd",
                            "learning_rate": 0.01}
        out.append(Workload(config.name, batch_norm.task_for(config, (40, 20), 0.01), 1000, (100, n_test),
                            numpy_config))
    return out


def overfitting_workloads(n_test: int) -> list[Workload]:
    out = []
    for s in overfitting.SETTINGS:
        numpy_config = {"kind": "mlp", "name": s.name, "hidden": [100] * 6, "activation": "relu", "weight_init": "He",
                        "batchnorm": False, "dropout": s.dropout, "weight_decay": s.weight_decay, "l1": s.l1,
                        "trainable": s.trainable, "optimizer": s.optimizer.split(":")[1],
                        "learning_rate": s.learning_rate}
        out.append(Workload(s.name, overfitting.task_for(s, (100,) * 6, "course"), 1000, (100, n_test, 300),
                            numpy_config))
    return out


def convnet_workloads(n_train: int, n_test: int) -> list[Workload]:
    return [Workload(net.name, convnets.task_for(net, 0.001, "course"), net.steps, (100, n_test, n_train),
                     {"kind": "convnet", "name": net.name, "net": net.name, "learning_rate": 0.001})
            for net in convnets.NETS]


EXPERIMENTS = {
    "batch_norm": dict(workloads=lambda: batch_norm_workloads(10000), numpy_args=["--train-accuracy", "batch"]),
    "overfitting": dict(workloads=lambda: overfitting_workloads(10000), numpy_args=["--train-size", "300"]),
    "convnets": dict(workloads=lambda: convnet_workloads(5000, 1000),
                     numpy_args=["--train-size", "5000", "--test-size", "1000"]),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "bench_course")
    parser.add_argument("--out", type=cli.output_folder, required=True, default=argparse.SUPPRESS,
                        help="folder for bench.json and bench.md")
    parser.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per config in the jaxdl runs")
    parser.add_argument("--experiments", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS),
                        help="experiments to time")
    parser.add_argument("--numpy-steps", type=int, nargs=3, default=[200, 200, 20], metavar=("BN", "OF", "CONV"),
                        help="NumPy steps timed per config for batch_norm, overfitting, convnets (then scaled)")
    parser.add_argument("--jax-args", default="", help="extra flags for every jaxdl CLI (e.g. for a quick check)")
    return parser.parse_args(argv)


def workload_flops(work: Workload) -> float:
    """FLOPs of one seed's run: steps x train step + evaluations x eval steps (XLA cost analysis)."""
    sample = jnp.zeros((1, 28, 28, 1), jnp.float32)
    state = jax.eval_shape(work.task.init, jax.random.key(0), sample)

    def batch(n: int) -> Batch:
        return Batch(jax.ShapeDtypeStruct((n, 28, 28, 1), jnp.float32), jax.ShapeDtypeStruct((n,), jnp.int32))

    train = xla_flops(make_train_step(work.task), state, batch(100))
    evals = sum(xla_flops(make_eval_step(work.task), state, batch(n)) for n in work.eval_sizes)
    return work.steps * train + work.steps // EVAL_EVERY * evals


def run_jax(name: str, args: argparse.Namespace) -> dict:
    out = args.out / name
    command = python_module(f"experiments.{name}", "--out", str(out), "--seeds", str(args.seeds),
                            *(["--data-dir", args.data_dir] if args.data_dir else []), *args.jax_args.split())
    wall = spawn(command, stderr_to_terminal=True).wall_s
    result = json.loads((out / "results.json").read_text())
    return {"command": " ".join(command[1:]), "wall_s": wall, "runs": len(result["runs"]) * args.seeds,
            "compile_s": sum(r["compile_s"] for r in result["runs"]), "run_s": sum(r["run_s"] for r in result["runs"]),
            "final_test_accuracy": {r["name"]: r["final_test_accuracy_mean"] for r in result["runs"]}}


def run_numpy(workloads: list[Workload], steps: int, extra: list[str], data_dir: str | None) -> dict:
    configs = [w.numpy_config for w in workloads if w.numpy_config is not None]
    command = python_module("jaxdl.bench.numpy_course", "course", "--configs", json.dumps(configs),
                            "--steps", str(steps), "--eval-every", str(EVAL_EVERY), *extra,
                            *(["--data-dir", data_dir] if data_dir else []))
    child = spawn(command, env=numpy_environment())
    wall, result = child.wall_s, child.json()
    loops = {r["name"]: r["seconds"] for r in result["runs"]}
    startup = wall - sum(loops.values())  # interpreter start, imports and data load
    full_steps = {w.name: w.steps for w in workloads}
    scaled = {name: s * full_steps[name] / min(steps, full_steps[name]) for name, s in loops.items()}
    return {"timed_steps": steps, "timed_loop_s": loops, "startup_s": startup, "scaled_run_s": scaled,
            "per_run_s": startup + sum(scaled.values()) / len(scaled), "configs_timed": sorted(loops)}


def bench(name: str, args: argparse.Namespace, gemm: float) -> dict:
    spec = EXPERIMENTS[name]
    workloads = spec["workloads"]()
    numpy_steps = dict(zip(EXPERIMENTS, args.numpy_steps, strict=False))[name]
    numpy = run_numpy(workloads, numpy_steps, spec["numpy_args"], args.data_dir)
    jax_run = run_jax(name, args)
    flops = args.seeds * sum(workload_flops(w) for w in workloads)
    per_run = jax_run["wall_s"] / jax_run["runs"]
    return {
        "jax": {**jax_run, "per_run_s": per_run}, "numpy": numpy, "speedup_per_run": numpy["per_run_s"] / per_run,
        "flops": flops, "gflops_whole_process": flops_per_s(flops, jax_run["wall_s"]) / 1e9,
        "gflops_compiled_runs": flops_per_s(flops, jax_run["run_s"]) / 1e9,
        "fraction_of_gemm_whole_process": fraction_of_gemm(flops, jax_run["wall_s"], gemm),
        "fraction_of_gemm_compiled_runs": fraction_of_gemm(flops, jax_run["run_s"], gemm),
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(f"bench_course: {' '.join(args.experiments)}, {args.seeds} seeds; outputs in {args.out}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    gemm = gemm_flops_per_s()
    peak = gemm / 1e9
    results = {name: bench(name, args, gemm) for name in args.experiments}
    summary = {"gemm_gflops": peak, "seeds": args.seeds, "experiments": results, "environment": report.environment()}
    rows = [(name, f"{r['jax']['runs']}", f"{r['jax']['per_run_s']:.2f}", f"{r['numpy']['per_run_s']:.2f}",
             f"{r['speedup_per_run']:.1f}x", f"{r['gflops_whole_process']:.1f} / {r['gflops_compiled_runs']:.1f}",
             f"{r['fraction_of_gemm_whole_process']:.2f} / {r['fraction_of_gemm_compiled_runs']:.2f}")
            for name, r in results.items()]
    table = report.markdown_table(["experiment", "runs (configs x seeds)", "jaxdl s/run (whole process)",
                                   "NumPy s/run (scaled)", "speedup", "GFLOP/s (process / runs)",
                                   f"of {peak:.0f} GFLOP/s GEMM"], rows)
    with atomic_write(args.out / "bench.json", "w") as f:
        json.dump(summary, f, indent=1)
    with atomic_write(args.out / "bench.md", "w") as f:
        f.write(table)
    print(table)
    cli.report_outputs(args.out)
    return summary


if __name__ == "__main__":
    cli.run(main)
