"""Benchmark of the vanishing-gradient grid: jaxdl against the NumPy course code, cold processes.

    python -m experiments.bench_grid --data-dir ../shared/data/mnist --out runs/bench_grid

Three cases, each timed as a fresh process (interpreter start, imports, compile and run;
data loading is timed inside and excluded): the 12-config grid with one seed, the grid with
10 seeds per config (120 runs), and one config alone (relu, He, no BN). The NumPy side runs
jaxdl.reference's course loop (float64, as the course) for the same runs
(`python -m jaxdl.bench.numpy_course grid`), in a process without OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE (which halve NumPy's matmul speed).
Also reports the FLOPs XLA counts for the work and the rate achieved against a float32
GEMM measured in the same run. With --repeats N both sides run N times, alternating, and
each keeps its fastest process (the least disturbed on a shared machine; every try is saved).
Every jaxdl process runs twice: cold, compiling into an empty persistent compilation cache, and
warm, reading its programs back from it (jaxdl.compile_cache); the speedup is the cold one.
Prints a table and writes bench_grid.json into --out.
"""

import argparse
import json
import sys
import tempfile
import time

from jaxdl import cli
from jaxdl.bench.harness import fastest, flops_per_s, fraction_of_gemm, numpy_environment, python_module, spawn

CASES = {"grid": (12, 1), "grid_10_seeds": (12, 10), "one_config": (1, 1)}
ONE_CONFIG = ("relu", "He", False)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "bench_grid")
    parser.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    parser.add_argument("--out", type=cli.output_folder, default=None, help="folder for bench_grid.json")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES), help="cases to time")
    parser.add_argument("--numpy-seeds", type=int, default=None,
                        help="time NumPy on this many seeds per config and scale to the case's seeds "
                             "(default: run them all)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each side this many times, alternating, and keep each side's fastest")
    parser.add_argument("--child", choices=["jax"], help=argparse.SUPPRESS)
    parser.add_argument("--configs", type=int, default=12, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def grid_configs(n: int):
    from jaxdl.course.vanishing_gradient import configs

    grid = configs((40, 20))
    return [c for c in grid if c[0] == ONE_CONFIG] if n == 1 else grid[:n]


def train_experiment_grid(data_dir: str | None, configs: int, seeds: int, steps: int) -> tuple[float, float, float]:
    """(data seconds, compile seconds, grid seconds) of the vanishing-gradient experiment's grid
    program for the first `configs` configs x `seeds` seeds, through the experiment's own API."""
    import jax

    from jaxdl.course import vanishing_gradient
    from jaxdl.course.experiment import load_data

    imported = time.perf_counter()
    config = vanishing_gradient.Config(data_dir=data_dir, seeds=seeds, steps=steps)
    data = jax.block_until_ready(load_data(config))
    data_s = time.perf_counter() - imported
    *_, compile_s, run_s = vanishing_gradient.train_grid(config, grid_configs(configs), data, show_progress=False)
    return data_s, compile_s, compile_s + run_s


def child_jax(args) -> dict:
    """One cold grid run in this process; times exclude data loading."""
    data_s, compile_s, grid_s = train_experiment_grid(args.data_dir, args.configs, args.seeds, args.steps)
    return {"data_s": data_s, "compile_s": compile_s, "grid_s": grid_s}


def run_side(side: str, args, configs: int, seeds: int, cache: str | None = None) -> dict:
    """Run one side as a child process; its wall time less its data loading is the process time.
    The jax side compiles into the persistent compilation cache `cache` (a fresh folder: cold; the
    same folder again: warm, every program read back)."""
    data_flags = ["--data-dir", args.data_dir] if args.data_dir else []
    if side == "jax":
        child = spawn(python_module("experiments.bench_grid", "--child", "jax", "--configs", str(configs),
                                    "--seeds", str(seeds), "--steps", str(args.steps), *data_flags,
                                    "--compile-cache", cache or "off"))
    else:
        labels = [label for label, _ in grid_configs(configs)]
        child = spawn(python_module("jaxdl.bench.numpy_course", "grid", "--configs", json.dumps(labels),
                                    "--seeds", str(seeds), "--steps", str(args.steps), *data_flags),
                      env=numpy_environment())
    timings = child.json()
    timings["process_s"] = child.wall_s - timings["data_s"]
    return timings


def work_flops(configs: int, seeds: int, steps: int) -> float:
    """FLOPs of `configs x seeds` runs by XLA's count of one train step and one evaluation."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxdl.bench.flops import xla_flops
    from jaxdl.train.state import Batch, Task
    from jaxdl.train.step import make_eval_step, make_train_step

    model = grid_configs(1)[0][1].clone(switchable=False)
    task = Task(model, optax.sgd(0.1), trainable="affine")
    state = task.init(jax.random.key(0), jnp.zeros((1, 784)))
    batch = Batch(jnp.zeros((100, 784)), jnp.zeros(100, jnp.int32))
    test = Batch(jnp.zeros((10000, 784)), jnp.zeros(10000, jnp.int32))
    evals = steps // 100
    per_run = (steps * xla_flops(make_train_step(task), state, batch)
               + evals * (xla_flops(make_eval_step(task), state, batch) + xla_flops(make_eval_step(task), state, test)))
    return configs * seeds * per_run


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child_jax(args)))
        return {}
    print(f"bench_grid: {' '.join(args.cases)}, {args.steps} steps, {args.repeats} repeats"
          + (f"; outputs in {args.out}" if args.out else ""), flush=True)
    from jaxdl.bench.flops import gemm_flops_per_s
    from jaxdl.report import environment, markdown_table, write_json

    gemm = gemm_flops_per_s()
    results = {"environment": environment(), "gemm_flops_per_s": gemm, "steps": args.steps, "cases": {}}
    rows = []
    for case in args.cases:
        configs, seeds = CASES[case]
        numpy_seeds = min(seeds, args.numpy_seeds or seeds)
        jax_tries, warm_tries, numpy_tries = [], [], []
        for _ in range(args.repeats):  # alternating, so both sides meet the same background load
            with tempfile.TemporaryDirectory(prefix="bench_grid_cache_") as cache:
                jax_tries.append(run_side("jax", args, configs, seeds, cache))  # cold: an empty cache
                warm_tries.append(run_side("jax", args, configs, seeds, cache))  # warm: read back
            numpy_tries.append(run_side("numpy", args, configs, numpy_seeds))
        jax_side, numpy_side = fastest(jax_tries, "process_s"), fastest(numpy_tries, "process_s")
        warm_side = fastest(warm_tries, "process_s")
        numpy_s = numpy_side["process_s"] * seeds / numpy_seeds
        flops = work_flops(configs, seeds, args.steps)
        run_s = jax_side["grid_s"] - jax_side["compile_s"]
        entry = {"configs": configs, "seeds": seeds, "jaxdl": jax_side, "jaxdl_warm": warm_side, "numpy": numpy_side,
                 "numpy_seeds_timed": numpy_seeds, "numpy_s": numpy_s,
                 "speedup": numpy_s / jax_side["process_s"], "flops": flops,
                 "achieved_flops_per_s_run": flops_per_s(flops, run_s),
                 "achieved_flops_per_s_process": flops_per_s(flops, jax_side["process_s"]),
                 "fraction_of_gemm_run": fraction_of_gemm(flops, run_s, gemm)}
        results["cases"][case] = entry
        rows.append((case, f"{configs} x {seeds}", f"{numpy_s:.2f}",
                     f"{jax_side['process_s']:.2f} / {warm_side['process_s']:.2f}",
                     f"{jax_side['compile_s']:.2f} / {warm_side['compile_s']:.2f}", f"{run_s:.2f}",
                     f"{entry['speedup']:.1f}x",
                     f"{flops / 1e9:.0f}",
                     f"{entry['achieved_flops_per_s_run'] / 1e9:.0f} ({entry['fraction_of_gemm_run']:.0%})"))
        print(f"{case}: numpy {numpy_s:.2f} s, jaxdl {jax_side['process_s']:.2f} s", file=sys.stderr)
    table = markdown_table(["case", "configs x seeds", "NumPy s", "jaxdl s (process, cold / warm)",
                            "compile s (cold / warm)", "run s",
                            "speedup", "GFLOP", "GFLOP/s in run (of GEMM)"], rows)
    print(table)
    print(f"float32 GEMM: {gemm / 1e9:.0f} GFLOP/s on {results['environment']['device']} "
          f"({results['environment']['cpu_count']} cores)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "bench_grid.json", results)
        cli.report_outputs(args.out)
    return results


if __name__ == "__main__":
    cli.run(main)
