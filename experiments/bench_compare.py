"""Benchmark of compare_optimizers: a workload's whole sweep as one program against one process per run.

    python -m experiments.bench_compare --data-root ../shared/data --out runs/bench_compare

(a) One program: `python -m experiments.compare_optimizers` for --optimizers x --trials x --seeds on
    --workload, as one fresh process (interpreter start, imports, data, one compile, the run, outputs).
(b) One process per run: the same runs, each as its own `python -m experiments.compare_optimizers`
    process with the trial's hyperparameters fixed inline, --trials 1 --seeds 1 --seed s (as a job
    scheduler runs one trial per job). --processes N times N of them, spread evenly over the list
    (every optimizer included), and scales their mean wall time to all runs; N = 0 times them all.
    Each separate run's final validation accuracy is checked against the sweep's for the same run.
Wall times are whole processes, start to exit; compute times are the processes' own compile + run
seconds (results.json), excluding interpreter start, imports, data and plots.
Prints a table and writes bench_compare.json into --out.
"""

import argparse
import json
import pathlib
import shlex
import tempfile

from jaxdl import cli

DEFAULT_OPTIMIZERS = ("course:adam", "optax:adamw", "optax:lion", "chainer:momentum")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "bench_compare")
    parser.add_argument("--workload", default="mnist_mlp", help="workload of compare_optimizers")
    parser.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS), metavar="SPEC",
                        help="optimizer specs of compare_optimizers")
    parser.add_argument("--trials", type=int, default=8, help="trials per optimizer")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per trial")
    parser.add_argument("--steps", type=int, help="step budget (default: the workload's)")
    parser.add_argument("--processes", type=int, default=12,
                        help="separate processes to time, spread over the runs and scaled to all; 0: every run")
    parser.add_argument("--data-root", default=None, help="compare_optimizers' --data-root "
                                                          "(default: $JAXDL_DATA_ROOT, else TFDS)")
    parser.add_argument("--out", type=cli.output_folder, required=True, help="output folder")
    return parser.parse_args(argv)


def inline(spec: str, values: dict[str, float]) -> str:
    """`spec` with the trial's `values` written inline: 'optax:adamw' -> 'optax:adamw(learning_rate=..., ...)'."""
    extra = ", ".join(f"{key}={value!r}" for key, value in values.items())
    if not extra:
        return spec
    return f"{spec[:-1]}, {extra})" if spec.endswith(")") else f"{spec}({extra})"


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from jaxdl.atomic import check_writable_folder

    check_writable_folder(args.out)
    if args.processes < 0:
        raise ValueError(f"--processes must be >= 0, got {args.processes}")
    cli.announce("bench_compare", args, f"{args.workload}: {len(args.optimizers)} optimizers x {args.trials} trials "
                                        f"x {args.seeds} seeds, one program against one process per run")
    import numpy as np

    from jaxdl import report
    from jaxdl.bench.harness import REPO, python_module, spawn

    common = ["--workloads", args.workload, *(["--steps", str(args.steps)] if args.steps else []),
              *(["--data-root", args.data_root] if args.data_root else [])]
    with tempfile.TemporaryDirectory() as scratch:
        sweep_out = pathlib.Path(scratch) / "sweep"
        command = python_module("experiments.compare_optimizers", *common, "--optimizers", *args.optimizers,
                                "--trials", str(args.trials), "--seeds", str(args.seeds), "--out", str(sweep_out))
        print("one program:", shlex.join(command[1:]), flush=True)
        sweep = spawn(command, cwd=REPO)
        swept = json.loads((sweep_out / "results.json").read_text())["workloads"][0]
        runs = [(o, k, s) for o in range(len(args.optimizers)) for k in range(args.trials) for s in range(args.seeds)]
        picked = runs if args.processes == 0 else [runs[i] for i in np.unique(
            np.linspace(0, len(runs) - 1, min(args.processes, len(runs))).round().astype(int))]
        separate = []
        for number, (o, k, s) in enumerate(picked, start=1):
            arm = swept["arms"][o]
            out = pathlib.Path(scratch) / f"run_{o}_{k}_{s}"
            spec = inline(args.optimizers[o], arm["trials"][k])
            child = spawn(python_module("experiments.compare_optimizers", *common, "--optimizers", spec,
                                        "--trials", "1", "--seeds", "1", "--seed", str(s), "--out", str(out)),
                          cwd=REPO)
            alone = json.loads((out / "results.json").read_text())["workloads"][0]
            val_alone, val_swept = alone["arms"][0]["val_final"][0][0], arm["val_final"][s][k]
            separate.append({"optimizer": spec, "seed": s, "wall_s": child.wall_s,
                             "compute_s": alone["compile_s"] + alone["run_s"],
                             "val_final": val_alone, "val_final_in_sweep": val_swept})
            print(f"process {number}/{len(picked)}: {spec} seed {s}: {child.wall_s:.1f} s, final validation "
                  f"accuracy {val_alone:.4f} (in the sweep {val_swept:.4f})", flush=True)
    per_wall = float(np.mean([r["wall_s"] for r in separate]))
    per_compute = float(np.mean([r["compute_s"] for r in separate]))
    result = {
        "benchmark": "bench_compare", "settings": {**vars(args), "out": str(args.out)}, "runs": len(runs),
        "one_program": {"wall_s": sweep.wall_s, "compute_s": swept["compile_s"] + swept["run_s"],
                        "compile_s": swept["compile_s"], "run_s": swept["run_s"]},
        "one_process_per_run": {"timed": len(separate), "mean_wall_s": per_wall, "mean_compute_s": per_compute,
                                "wall_s": per_wall * len(runs), "compute_s": per_compute * len(runs),
                                "extrapolated": len(separate) < len(runs), "processes": separate},
        "max_val_difference": float(max(abs(r["val_final"] - r["val_final_in_sweep"]) for r in separate)),
        "environment": report.environment(),
    }
    result["speedup_wall"] = result["one_process_per_run"]["wall_s"] / sweep.wall_s
    result["speedup_compute"] = result["one_process_per_run"]["compute_s"] / result["one_program"]["compute_s"]
    scaled = f" ({len(separate)} timed, scaled to {len(runs)})" if len(separate) < len(runs) else ""
    print(report.markdown_table(
        ["", "wall time", "compile + run"],
        [(f"one program, {len(runs)} runs", f"{sweep.wall_s:.1f} s", f"{result['one_program']['compute_s']:.1f} s"),
         (f"one process per run{scaled}", f"{result['one_process_per_run']['wall_s']:.1f} s",
          f"{result['one_process_per_run']['compute_s']:.1f} s"),
         ("ratio", f"{result['speedup_wall']:.1f}x", f"{result['speedup_compute']:.1f}x")]))
    print("largest final-validation-accuracy difference, separate process vs sweep: "
          f"{result['max_val_difference']:.2g}")
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(args.out / "bench_compare.json", result)
    return result


if __name__ == "__main__":
    cli.run(main)
