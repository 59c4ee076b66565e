"""Course 2_5 and the study text's Section 3: overfitting on 300 images, and L2, L1 and dropout against it.

    python -m experiments.overfitting --out runs/overfitting --seeds 5

MultiLayerNet [100] x 6, ReLU, He init, trained on the first 300 training images (batch 100
drawn with replacement) for 1000 steps; every 10 steps, accuracy on all 300 training images
and on all 10,000 test images (the course's accuracies_train / accuracies_test).
Settings (the course's cells; optimizers are the book's, "course:" in jaxdl.optim):
  none                 SGD 0.01, every layer
  l2, l1               the course's hand-written cells: L2 0.1 (SGD 0.01), L1 0.005 (SGD 0.1) on the
                       hidden layers; the output layer is never updated (Task trainable="hidden_affine")
  l2-textbook, ...     the same penalties on every layer, every layer updated
  dropout-l2           dropout 0.15 with MultiLayerNet's L2 0.005, SGD 0.01
  study-dropout-*       the study text's dropout runs: dropout 0.15, L2 0.01, SGD 0.01 / Momentum 0.01 (0.9) /
                       AdaGrad 0.01 / Adam 0.01
  dropout-l1           dropout 0.08 + L1 0.004 (cell, SGD 0.01); study-dropout-l1: the study text's 0.1 + 0.005
Seed s draws the initial weights and then the batches from np.random.RandomState(s), as the
course's code after np.random.seed(s) (dropout masks come from jax.random.key(s)). Logged
losses carry Task's penalty over every kernel (the cells log 0.5 * lambda * sqrt(sum W^2) per
hidden layer; only the log differs). Writes figure.png (train and test accuracy per setting),
results.json and table.md into --out.
Expected (course, spec section 7): none reaches train 1.000 and test 0.757-0.770; L2 0.1 test
0.705-0.709; L1 0.005 test 0.618-0.727; the regularisers narrow the train-test gap.
"""

import argparse
import time
from typing import NamedTuple

import numpy as np

import jaxdl.optim
from experiments import common, seeded
from jaxdl import report
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.nn.dropout import FORMS
from jaxdl.report import figures
from jaxdl.train.run import Schedule
from jaxdl.train.state import Task


class Setting(NamedTuple):
    name: str
    optimizer: str  # jaxdl.optim spec
    learning_rate: float
    dropout: float = 0.0
    weight_decay: float = 0.0  # L2 lambda: loss + 0.5 * lambda * sum W^2
    l1: float = 0.0  # L1 lambda: loss + lambda * sum |W|
    trainable: str = "all"  # "hidden_affine": the course's L1/L2 cells
    course_test: tuple[float, float] | None = None  # published single-run test accuracy (spec section 7)
    course_train: float | None = None


SETTINGS = (
    Setting("none", "course:sgd", 0.01, course_test=(0.757, 0.770), course_train=1.0),
    Setting("l2", "course:sgd", 0.01, weight_decay=0.1, trainable="hidden_affine", course_test=(0.705, 0.709)),
    Setting("l2-textbook", "course:sgd", 0.01, weight_decay=0.1),
    Setting("l1", "course:sgd", 0.1, l1=0.005, trainable="hidden_affine", course_test=(0.618, 0.727)),
    Setting("l1-textbook", "course:sgd", 0.1, l1=0.005),
    Setting("dropout-l2", "course:sgd", 0.01, dropout=0.15, weight_decay=0.005),
    Setting("study-dropout-sgd", "course:sgd", 0.01, dropout=0.15, weight_decay=0.01),
    Setting("study-dropout-momentum", "course:momentum", 0.01, dropout=0.15, weight_decay=0.01),
    Setting("study-dropout-adagrad", "course:adagrad", 0.01, dropout=0.15, weight_decay=0.01),
    Setting("study-dropout-adam", "course:adam", 0.01, dropout=0.15, weight_decay=0.01),
    Setting("dropout-l1", "course:sgd", 0.01, dropout=0.08, l1=0.004, trainable="hidden_affine"),
    Setting("study-dropout-l1", "course:sgd", 0.01, dropout=0.1, l1=0.005, trainable="hidden_affine"),
)
BY_NAME = {s.name: s for s in SETTINGS}


def describe(setting: Setting) -> str:
    parts = [f"{setting.optimizer.split(':')[1]} {setting.learning_rate:g}"]
    if setting.dropout:
        parts.append(f"dropout {setting.dropout:g}")
    if setting.weight_decay:
        parts.append(f"L2 {setting.weight_decay:g}")
    if setting.l1:
        parts.append(f"L1 {setting.l1:g}")
    if setting.trainable == "hidden_affine":
        parts.append("output layer frozen")
    return ", ".join(parts)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_run_flags(parser, steps=1000, eval_every=10)
    common.add_data_flags(parser)
    parser.add_argument("--train-size", type=int, default=300, help="train on the first N training images")
    parser.add_argument("--hidden", type=int, nargs="+", default=[100] * 6, help="hidden layer sizes")
    parser.add_argument("--dropout-form", choices=FORMS, default="course",
                        help="course: mask without scaling, x * (1 - ratio) at test; inverted: Chainer/Flax")
    parser.add_argument("--settings", nargs="+", choices=list(BY_NAME), default=list(BY_NAME),
                        metavar="NAME", help=f"settings to run (default all): {', '.join(BY_NAME)}")
    args = parser.parse_args(argv)
    if args.train_size <= 0:
        parser.error(f"--train-size must be positive, got {args.train_size}")
    return args


def task_for(setting: Setting, hidden: list[int], dropout_form: str) -> Task:
    model = MultiLayerNet(784, tuple(hidden), 10, activation="relu", weight_init="He",
                          dropout_ratio=setting.dropout, dropout=dropout_form)
    optimizer = jaxdl.optim.create(setting.optimizer, learning_rate=setting.learning_rate)
    return Task(model, optimizer, loss="course", weight_decay=setting.weight_decay, l1=setting.l1,
                trainable=setting.trainable)


def main(argv=None) -> dict:
    args = parse_args(argv)
    schedule = Schedule(args.steps, args.batch_size, args.eval_every)
    schedule.check()
    started = time.perf_counter()
    data = common.load_data(args, train_limit=args.train_size)
    seeds = range(args.seed, args.seed + args.seeds)
    settings = [BY_NAME[name] for name in args.settings]
    runs = []
    for setting in settings:
        task = task_for(setting, args.hidden, args.dropout_form)
        runs.append(seeded.train_seeds(task, schedule, data, lambda rng, m=task.model: course_init(m, rng), seeds,
                                       setting.name, eval_train=True))
    result = summarize(args, settings, runs, schedule, time.perf_counter() - started)
    write_outputs(args, result, schedule)
    return result


def summarize(args, settings: list[Setting], runs: list[seeded.SeededRuns], schedule: Schedule,
              wall_s: float) -> dict:
    summaries = []
    for setting, run in zip(settings, runs, strict=True):
        train, test = run.history.train_accuracy, run.history.test_accuracy  # [seeds, evals]
        gap = train[:, -1] - test[:, -1]
        run_gap = (train - test).mean(axis=1)  # over every evaluation: steadier than the last one under large steps
        summaries.append({
            **setting._asdict(), "description": describe(setting),
            "train_accuracy": train, "test_accuracy": test, "train_loss": run.history.train_loss,
            "test_loss": run.history.test_loss, "step_loss": run.history.loss,
            "final_train_accuracy_mean": float(train[:, -1].mean()),
            "final_train_accuracy_std": float(train[:, -1].std()),
            "final_test_accuracy_mean": float(test[:, -1].mean()), "final_test_accuracy_std": float(test[:, -1].std()),
            "final_gap_mean": float(gap.mean()), "final_gap_std": float(gap.std()),
            "run_gap_mean": float(run_gap.mean()), "run_gap_std": float(run_gap.std()),
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "overfitting",
        "settings": {"hidden": args.hidden, "activation": "relu", "weight_init": "He", "train_size": args.train_size,
                     "dropout_form": args.dropout_form, "steps": args.steps, "batch_size": args.batch_size,
                     "eval_every": args.eval_every, "seeds": list(range(args.seed, args.seed + args.seeds)),
                     "dataset": args.dataset, "loss": "course softmax cross-entropy"},
        "eval_steps": schedule.eval_steps, "runs": summaries,
        "compile_s": sum(r["compile_s"] for r in summaries), "wall_s": wall_s, "environment": report.environment(),
    }


def _range(values: tuple[float, float] | float | None) -> str:
    if values is None:
        return "-"
    return f"{values:.3f}" if isinstance(values, float) else "{:.3f}-{:.3f}".format(*values)


def write_outputs(args, result: dict, schedule: Schedule) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    runs = result["runs"]
    train_label = f"train ({result['settings']['train_size']} images)"
    panels = [(f"{r['name']} (gap {r['final_gap_mean']:.2f})\n{r['description']}",
               {train_label: r["train_accuracy"], "test": r["test_accuracy"]}) for r in runs]
    figures.panel_grid(panels, schedule.eval_steps, args.out / "figure.png", columns=3)
    rows = [(r["name"], r["description"], report.mean_std([c[-1] for c in r["train_accuracy"]]),
             report.mean_std([c[-1] for c in r["test_accuracy"]]),
             report.mean_std([a[-1] - b[-1] for a, b in zip(r["train_accuracy"], r["test_accuracy"], strict=True)]),
             report.mean_std([np.mean(np.subtract(a, b))
                              for a, b in zip(r["train_accuracy"], r["test_accuracy"], strict=True)]),
             _range(r["course_train"]), _range(r["course_test"])) for r in runs]
    seeds = len(result["settings"]["seeds"])
    table = report.markdown_table(["setting", "optimizer and regularisation", f"train accuracy ({seeds} seeds)",
                                   "test accuracy", "gap", "gap, mean over the run", "course train",
                                   "course test"], rows)
    report.write_results(args.out, table, result)


if __name__ == "__main__":
    common.cli(main)
