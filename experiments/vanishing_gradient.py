"""Study text Section 1 (course 2_2_2): activation x weight init x batch norm, one compiled program.

    python -m experiments.vanishing_gradient --out runs/vanishing_gradient --seeds 5

MultiLayerNet [40, 20] on MNIST, SGD lr 0.1 on W and b only (the notebook's loop leaves
gamma/beta at 1/0), batch 100 drawn with replacement, 2000 steps; test accuracy on all
10,000 test images and accuracy on the current batch every 100 steps. Writes figure.png
(the study text's 4x3 grid), results.json and table.md into --out.
Expected (course, section 7 of the spec): sigmoid/0.01 ~0.10-0.11, sigmoid/Xavier
~0.87-0.89, relu/0.01 ~0.92-0.93, relu/He ~0.955-0.961.
"""

import argparse
import itertools
import time

import jax
import numpy as np
import optax

from experiments import common
from jaxdl import report
from jaxdl.models.mlp import MultiLayerNet, init_variants
from jaxdl.train.compile import compiler_options
from jaxdl.train.grid import make_grid_program, seed_inputs
from jaxdl.train.run import Schedule, check_finite
from jaxdl.train.state import Task

ACTIVATIONS = ("sigmoid", "relu")
INITS = ("0.01", "Xavier", "He")
BATCHNORM = (False, True)
# Published single-run test accuracies (spec section 7); None where the course gives none.
COURSE_RANGES = {("sigmoid", "0.01", False): (0.098, 0.114), ("relu", "0.01", False): (0.916, 0.929),
                 ("sigmoid", "Xavier", False): (0.872, 0.891), ("relu", "He", False): (0.955, 0.961)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_run_flags(parser, steps=2000, eval_every=100)
    common.add_data_flags(parser)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, nargs="+", default=[40, 20], help="hidden layer sizes")
    parser.add_argument("--update", choices=["affine", "all"], default="affine",
                        help="affine: W and b only, as the notebook's loop; all: gamma/beta too")
    return parser.parse_args(argv)


def weight_init(name: str) -> float | str:
    return float(name) if name[0].isdigit() else name


def configs(hidden: list[int]) -> list[tuple[tuple[str, str, bool], MultiLayerNet]]:
    return [((act, init, bn), MultiLayerNet(784, tuple(hidden), 10, activation=act, weight_init=weight_init(init),
                                            use_batchnorm=bn, switchable=True))
            for act, init, bn in itertools.product(ACTIVATIONS, INITS, BATCHNORM)]


def main(argv=None) -> dict:
    args = parse_args(argv)
    schedule = Schedule(args.steps, args.batch_size, args.eval_every)
    schedule.check()
    data = common.load_data(args)
    grid = configs(args.hidden)
    history, compile_s, wall_s = train_grid(args, grid, schedule, data)
    result = summarize(args, grid, history, schedule, compile_s, wall_s)
    write_outputs(args, result, schedule)
    return result


def train_grid(args, grid, schedule: Schedule, data, show_progress: bool = True):
    """Compile and run every config x seed in one program: (history [seeds, configs, ...],
    compile seconds, total seconds)."""
    started = time.perf_counter()
    if len({(m.activation, m.use_batchnorm) for _, m in grid}) == 1:  # one structure: no switches needed
        grid = [(label, m.clone(switchable=False)) for label, m in grid]
    task = Task(grid[0][1], optax.sgd(args.lr), loss="course", trainable=args.update)
    progress = common.Progress(f"vanishing_gradient ({len(grid)} configs x {args.seeds} seeds)",
                               args.steps) if show_progress else None
    seeds = range(args.seed, args.seed + args.seeds)
    inputs = seed_inputs(lambda rng: init_variants([m for _, m in grid], rng), seeds, schedule,
                         data.train_images.shape[0])
    program = make_grid_program(task, schedule, progress)
    compiled = program.lower(inputs, data).compile(compiler_options=compiler_options())
    compile_s = time.perf_counter() - started
    _, history = jax.block_until_ready(compiled(inputs, data))
    check_finite(history, [f"{a}, {i}, BN {b}" for (a, i, b), _ in grid])
    return history, compile_s, time.perf_counter() - started


def summarize(args, grid, history, schedule: Schedule, compile_s: float, wall_s: float) -> dict:
    test = np.asarray(history.test_accuracy)  # [seeds, configs, evals]
    batch = np.asarray(history.batch_accuracy)
    runs = []
    for c, ((act, init, bn), _) in enumerate(grid):
        final = test[:, c, -1]
        runs.append({
            "activation": act, "weight_init": init, "batchnorm": bn,
            "test_accuracy": test[:, c], "batch_accuracy": batch[:, c],
            "batch_loss": np.asarray(history.batch_loss)[:, c],
            "final_test_accuracy_mean": float(final.mean()), "final_test_accuracy_std": float(final.std()),
            "course_range": COURSE_RANGES.get((act, init, bn)),
        })
    return {
        "experiment": "vanishing_gradient",
        "settings": {"hidden": args.hidden, "lr": args.lr, "optimizer": "SGD", "update": args.update,
                     "steps": args.steps, "batch_size": args.batch_size, "eval_every": args.eval_every,
                     "seeds": list(range(args.seed, args.seed + args.seeds)), "dataset": args.dataset,
                     "loss": "course softmax cross-entropy", "batchnorm": "course"},
        "eval_steps": schedule.eval_steps, "runs": runs,
        "compile_s": compile_s, "wall_s": wall_s, "environment": report.environment(),
    }


def write_outputs(args, result: dict, schedule: Schedule) -> None:
    from jaxdl.report import figures  # matplotlib loads only when figures are drawn

    args.out.mkdir(parents=True, exist_ok=True)
    panels = [(f"{r['activation']}, {r['weight_init']}, batch norm {r['batchnorm']} "
               f"({r['final_test_accuracy_mean']:.2f})",
               {"training set (batch)": r["batch_accuracy"], "test set": r["test_accuracy"]})
              for r in result["runs"]]
    figures.panel_grid(panels, schedule.eval_steps, args.out / "figure.png", columns=3)
    rows = [(r["activation"], r["weight_init"], r["batchnorm"],
             report.mean_std([curve[-1] for curve in r["test_accuracy"]]),
             "-" if r["course_range"] is None else "{:.3f}-{:.3f}".format(*r["course_range"]))
            for r in result["runs"]]
    table = report.markdown_table(
        ["activation", "init", "batch norm", f"test accuracy ({len(result['settings']['seeds'])} seeds)",
         "course (single runs)"], rows)
    report.write_results(args.out, table, result)


if __name__ == "__main__":
    common.cli(main)
