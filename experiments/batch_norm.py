"""Course 2_3: batch normalization in MultiLayerNet, across the course, Chainer and Flax conventions.

    python -m experiments.batch_norm --out runs/batch_norm --seeds 5

MultiLayerNet [40, 20], sigmoid, Xavier init, SGD lr 0.01, batch 100 drawn with replacement,
1000 steps; accuracy on the current batch and on all 10,000 test images every 10 steps.
Configs: batch norm off; batch norm on in the course, Chainer and Flax conventions
(jaxdl.nn.batchnorm), each with gamma/beta frozen (the course's loop updates W1..W3, b1..b3
only) and learned. Seed s draws the initial weights and then the batches from
np.random.RandomState(s), as the course's code after np.random.seed(s).
Writes figure.png (batch and test accuracy per config), test_accuracy.png (all configs'
test curves), results.json and table.md into --out.
Expected (course, spec section 7): BN on, course convention, gamma/beta frozen ~0.80-0.81.
"""

import argparse
import time
from typing import NamedTuple

import jaxdl.optim
from experiments import common, seeded
from jaxdl import report
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.nn.batchnorm import CONVENTIONS
from jaxdl.report import figures
from jaxdl.train.run import Schedule
from jaxdl.train.state import Task

COURSE_RANGE = (0.798, 0.814)  # 2_3, course convention, gamma/beta frozen: published single runs


class Config(NamedTuple):
    name: str
    batchnorm: str | None  # convention, None for batch norm off
    trainable: str  # "affine": gamma/beta frozen (the course's loop); "all": learned

    @property
    def label(self) -> str:
        if self.batchnorm is None:
            return "BN off"
        return f"BN {self.batchnorm}, gamma/beta {'frozen' if self.trainable == 'affine' else 'learned'}"


CONFIGS = (Config("off", None, "affine"),) + tuple(
    Config(f"{conv}-{'frozen' if trainable == 'affine' else 'learned'}", conv, trainable)
    for conv in CONVENTIONS for trainable in ("affine", "all"))
BY_NAME = {c.name: c for c in CONFIGS}
COURSE_CONFIG = "course-frozen"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_run_flags(parser, steps=1000, eval_every=10)
    common.add_data_flags(parser)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, nargs="+", default=[40, 20], help="hidden layer sizes")
    parser.add_argument("--configs", nargs="+", choices=list(BY_NAME), default=list(BY_NAME), metavar="NAME",
                        help=f"configs to run (default all): {', '.join(BY_NAME)}")
    return parser.parse_args(argv)


def task_for(config: Config, hidden: list[int], lr: float) -> Task:
    model = MultiLayerNet(784, tuple(hidden), 10, activation="sigmoid", weight_init="Xavier",
                          use_batchnorm=config.batchnorm is not None, batchnorm=config.batchnorm or "course")
    return Task(model, jaxdl.optim.create("course:sgd", learning_rate=lr), loss="course", trainable=config.trainable)


def main(argv=None) -> dict:
    args = parse_args(argv)
    schedule = Schedule(args.steps, args.batch_size, args.eval_every)
    schedule.check()
    started = time.perf_counter()
    data = common.load_data(args)
    seeds = range(args.seed, args.seed + args.seeds)
    configs = [BY_NAME[name] for name in args.configs]
    runs = []
    for config in configs:
        task = task_for(config, args.hidden, args.lr)
        runs.append(seeded.train_seeds(task, schedule, data, lambda rng, m=task.model: course_init(m, rng), seeds,
                                       config.label))
    result = summarize(args, configs, runs, schedule, time.perf_counter() - started)
    write_outputs(args, result, schedule)
    return result


def summarize(args, configs: list[Config], runs: list[seeded.SeededRuns], schedule: Schedule, wall_s: float) -> dict:
    summaries = []
    for config, run in zip(configs, runs, strict=True):
        test = run.history.test_accuracy  # [seeds, evals]
        summaries.append({
            "name": config.name, "label": config.label, "batchnorm": config.batchnorm,
            "gamma_beta": None if config.batchnorm is None
            else ("frozen" if config.trainable == "affine" else "learned"),
            "test_accuracy": test, "batch_accuracy": run.history.batch_accuracy,
            "test_loss": run.history.test_loss, "batch_loss": run.history.batch_loss,
            "final_test_accuracy_mean": float(test[:, -1].mean()), "final_test_accuracy_std": float(test[:, -1].std()),
            "course_range": COURSE_RANGE if config.name == COURSE_CONFIG else None,
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "batch_norm",
        "settings": {"hidden": args.hidden, "activation": "sigmoid", "weight_init": "Xavier",
                     "optimizer": f"course:sgd lr {args.lr}", "steps": args.steps, "batch_size": args.batch_size,
                     "eval_every": args.eval_every, "seeds": list(range(args.seed, args.seed + args.seeds)),
                     "dataset": args.dataset, "loss": "course softmax cross-entropy",
                     "batchnorm_conventions": {name: CONVENTIONS[name]._asdict() for name in CONVENTIONS}},
        "eval_steps": schedule.eval_steps, "runs": summaries,
        "compile_s": sum(r["compile_s"] for r in summaries), "wall_s": wall_s, "environment": report.environment(),
    }


def write_outputs(args, result: dict, schedule: Schedule) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    runs = result["runs"]
    panels = [(f"{r['label']} ({r['final_test_accuracy_mean']:.3f})",
               {"training set (batch)": r["batch_accuracy"], "test set": r["test_accuracy"]}) for r in runs]
    figures.panel_grid(panels, schedule.eval_steps, args.out / "figure.png", columns=3)
    figures.panel_grid([("test accuracy, all configs", {r["label"]: r["test_accuracy"] for r in runs})],
                       schedule.eval_steps, args.out / "test_accuracy.png", columns=1)
    rows = [(r["label"], report.mean_std([c[-1] for c in r["test_accuracy"]]),
             report.mean_std([c[-1] for c in r["batch_accuracy"]]),
             "-" if r["course_range"] is None else "{:.3f}-{:.3f}".format(*r["course_range"])) for r in runs]
    seeds = len(result["settings"]["seeds"])
    table = report.markdown_table(["config", f"test accuracy ({seeds} seeds)", "batch accuracy",
                                   "course (single runs)"], rows)
    report.write_results(args.out, table, result)


if __name__ == "__main__":
    common.cli(main)
