"""Course 2_5 and the study text's Section 3: overfitting on 300 images, and L2, L1 and dropout against it.

MultiLayerNet [100] x 6, ReLU, He init, trained on the first 300 training images (batch 100
drawn with replacement) for 1000 steps; every 10 steps, accuracy on all 300 training images
and on all 10,000 test images (the course's accuracies_train / accuracies_test).
Settings (the course's cells; optimizers are the book's, "course:" in jaxdl.optim):
  none                 SGD 0.01, every layer
  l2, l1               the course's hand-written cells: L2 0.1 (SGD 0.01), L1 0.005 (SGD 0.1) on the
                       hidden layers; the output layer is never updated (Task trainable="hidden_affine")
  l2-textbook, ...     the same penalties on every layer, every layer updated
  dropout-l2           dropout 0.15 with MultiLayerNet's L2 0.005, SGD 0.01
  study-dropout-*      the study text's dropout runs: dropout 0.15, L2 0.01, SGD 0.01 / Momentum 0.01 (0.9) /
                       AdaGrad 0.01 / Adam 0.01
  dropout-l1           dropout 0.08 + L1 0.004 (cell, SGD 0.01); study-dropout-l1: the study text's 0.1 + 0.005
Seed s draws the initial weights and then the batches from np.random.RandomState(s), as the
course's code after np.random.seed(s) (dropout masks come from jax.random.key(s)). Logged
losses carry Task's penalty over every kernel (the cells log 0.5 * lambda * sqrt(sum W^2) per
hidden layer; only the log differs). Writes figure.png (train and test accuracy per setting),
results.json and table.md.
Published (course 2_5, single runs): none reaches train 1.000 and test 0.757-0.770; L2 0.1 test
0.705-0.709; L1 0.005 test 0.618-0.727; the regularisers narrow the train-test gap.
"""

import dataclasses
import pathlib
from typing import Any, NamedTuple

from jax.sharding import Mesh

import jaxdl.optim
from jaxdl import report
from jaxdl.course.experiment import (
    CourseConfig,
    course_cell,
    divergence,
    divergence_note,
    final_stats,
    load_data,
    run_experiment,
    seed_stats,
    stats_cell,
    train_each,
)
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.nn.dropout import FORMS
from jaxdl.train.grid import SeededRuns
from jaxdl.train.run import Data
from jaxdl.train.state import Task


class Setting(NamedTuple):
    name: str
    optimizer: str  # jaxdl.optim spec
    learning_rate: float
    dropout: float = 0.0
    weight_decay: float = 0.0  # L2 lambda: loss + 0.5 * lambda * sum W^2
    l1: float = 0.0  # L1 lambda: loss + lambda * sum |W|
    trainable: str = "all"  # "hidden_affine": the course's L1/L2 cells
    course_test: tuple[float, float] | None = None  # published single-run test accuracy (course 2_5)
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


@dataclasses.dataclass(frozen=True)
class Config(CourseConfig):
    train_size: int = 300  # train on the first N training images
    hidden: tuple[int, ...] = (100,) * 6
    dropout_form: str = "course"  # course: mask without scaling, x * (1 - ratio) at test; inverted: Chainer/Flax
    settings: tuple[str, ...] = tuple(BY_NAME)

    def check(self) -> None:
        super().check()
        if not isinstance(self.train_size, int) or self.train_size < 1:
            raise ValueError(f"train_size (--train-size) must be positive, got {self.train_size!r}")
        if self.dropout_form not in FORMS:
            raise ValueError(f"dropout_form (--dropout-form) must be one of {', '.join(FORMS)}, "
                             f"got {self.dropout_form!r}")
        unknown = [name for name in self.settings if name not in BY_NAME]
        if unknown or not self.settings:
            raise ValueError(f"settings (--settings) must name some of {', '.join(BY_NAME)}, got {list(self.settings)}")


def task_for(setting: Setting, hidden: tuple[int, ...], dropout_form: str) -> Task:
    model = MultiLayerNet(784, tuple(hidden), 10, activation="relu", weight_init="He",
                          dropout_ratio=setting.dropout, dropout=dropout_form)
    optimizer = jaxdl.optim.create(setting.optimizer, learning_rate=setting.learning_rate)
    return Task(model, optimizer, loss="course", weight_decay=setting.weight_decay, l1=setting.l1,
                trainable=setting.trainable)


def summarize(config: Config, settings: list[Setting], runs: list[SeededRuns]) -> dict[str, Any]:
    summaries = []
    for setting, run in zip(settings, runs, strict=True):
        history = run.history
        train, test = history.train_accuracy, history.test_accuracy  # [seeds, evals]
        summaries.append({
            **setting._asdict(), "description": describe(setting),
            "train_accuracy": train, "test_accuracy": test, "train_loss": history.train_loss,
            "test_loss": history.test_loss, "step_loss": history.step_loss,
            **divergence(setting.name, run.diverged_at),
            **final_stats(train, "train_accuracy", run.diverged_at),
            **final_stats(test, "test_accuracy", run.diverged_at),
            **final_stats(train - test, "gap", run.diverged_at),
            # the gap averaged over every evaluation: steadier than the last one under large steps
            **seed_stats((train - test).mean(axis=1), "run_gap", run.diverged_at),
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "overfitting",
        "settings": {**config.to_dict(), "activation": "relu", "weight_init": "He",
                     "loss": "course softmax cross-entropy"},
        "eval_steps": config.schedule.eval_steps, "runs": summaries,
        "compile_s": sum(r["compile_s"] for r in summaries), "run_s": sum(r["run_s"] for r in summaries),
    }


def write_outputs(workdir: pathlib.Path, result: dict[str, Any]) -> None:
    from jaxdl.report import figures  # matplotlib loads only when figures are drawn

    workdir.mkdir(parents=True, exist_ok=True)
    runs, seeds = result["runs"], len(result["settings"]["seeds"])
    train_label = f"train ({result['settings']['train_size']} images)"
    panels = [(f"{r['name']} (gap {r['final_gap_mean']:.2f}){divergence_note(r)}\n{r['description']}",
               {train_label: r["train_accuracy"], "test": r["test_accuracy"]}) for r in runs]
    figures.panel_grid(panels, result["eval_steps"], workdir / "figure.png", columns=3)
    rows = [(r["name"], r["description"], *(stats_cell(r, name, seeds) for name in (
                "final_train_accuracy", "final_test_accuracy", "final_gap", "run_gap")),
             course_cell(r["course_train"]), course_cell(r["course_test"])) for r in runs]
    table = report.markdown_table(["setting", "optimizer and regularisation", f"train accuracy ({seeds} seeds)",
                                   "test accuracy", "gap", "gap, mean over the run", "course train",
                                   "course test"], rows)
    report.write_results(workdir, table, result)


def train_and_evaluate(config: Config, workdir: str | pathlib.Path) -> dict[str, Any]:
    """Train each of `config.settings` on every seed (one program per setting, seeds vmapped), on the
    first `config.train_size` training images; write figure.png, table.md and results.json into
    `workdir`; return the result."""

    def train(data: Data, mesh: Mesh) -> dict[str, Any]:
        settings = [BY_NAME[name] for name in config.settings]
        runs = train_each(config, data, [(s.name, task_for(s, config.hidden, config.dropout_form), config.schedule)
                                         for s in settings], course_init, eval_train=True, mesh=mesh)
        return summarize(config, settings, runs)

    return run_experiment("overfitting", config, workdir, lambda: load_data(config, train_limit=config.train_size),
                          train, write_outputs)
