"""Course 2_3: batch normalization in MultiLayerNet, across the course, Chainer and Flax conventions.

MultiLayerNet [40, 20], sigmoid, Xavier init, SGD lr 0.01, batch 100 drawn with replacement,
1000 steps; accuracy on the current batch and on all 10,000 test images every 10 steps.
Configs: batch norm off; batch norm on in the course, Chainer and Flax conventions
(jaxdl.nn.batchnorm), each with gamma/beta frozen (the course's loop updates W1..W3, b1..b3
only) and learned. Writes figure.png (batch and test accuracy per config), test_accuracy.png
(all configs' test curves), results.json and table.md.
Published (course 2_3, single runs): BN on, course convention, gamma/beta frozen 0.798-0.814.
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
    stats_cell,
    train_each,
)
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.nn.batchnorm import CONVENTIONS
from jaxdl.train.grid import SeededRuns
from jaxdl.train.run import Data
from jaxdl.train.state import Task

COURSE_RANGE = (0.798, 0.814)  # 2_3, course convention, gamma/beta frozen: published single runs


class BatchNormConfig(NamedTuple):
    name: str
    batchnorm: str | None  # convention, None for batch norm off
    trainable: str  # "affine": gamma/beta frozen (the course's loop); "all": learned

    @property
    def label(self) -> str:
        if self.batchnorm is None:
            return "BN off"
        return f"BN {self.batchnorm}, gamma/beta {'frozen' if self.trainable == 'affine' else 'learned'}"


CONFIGS = (BatchNormConfig("off", None, "affine"),) + tuple(
    BatchNormConfig(f"{conv}-{'frozen' if trainable == 'affine' else 'learned'}", conv, trainable)
    for conv in CONVENTIONS for trainable in ("affine", "all"))
BY_NAME = {c.name: c for c in CONFIGS}
COURSE_CONFIG = "course-frozen"


@dataclasses.dataclass(frozen=True)
class Config(CourseConfig):
    lr: float = 0.01
    hidden: tuple[int, ...] = (40, 20)
    configs: tuple[str, ...] = tuple(BY_NAME)

    def check(self) -> None:
        super().check()
        unknown = [name for name in self.configs if name not in BY_NAME]
        if unknown or not self.configs:
            raise ValueError(f"configs (--configs) must name some of {', '.join(BY_NAME)}, got {list(self.configs)}")


def task_for(config: BatchNormConfig, hidden: tuple[int, ...], lr: float) -> Task:
    model = MultiLayerNet(784, tuple(hidden), 10, activation="sigmoid", weight_init="Xavier",
                          use_batchnorm=config.batchnorm is not None, batchnorm=config.batchnorm or "course")
    return Task(model, jaxdl.optim.create("course:sgd", learning_rate=lr), loss="course", trainable=config.trainable)


def summarize(config: Config, configs: list[BatchNormConfig], runs: list[SeededRuns]) -> dict[str, Any]:
    summaries = []
    for bn, run in zip(configs, runs, strict=True):
        history = run.history  # [seeds, evals]
        summaries.append({
            "name": bn.name, "label": bn.label, "batchnorm": bn.batchnorm,
            "gamma_beta": None if bn.batchnorm is None else ("frozen" if bn.trainable == "affine" else "learned"),
            "test_accuracy": history.test_accuracy, "batch_accuracy": history.batch_accuracy,
            "test_loss": history.test_loss, "batch_loss": history.batch_loss, "step_loss": history.step_loss,
            **divergence(bn.label, run.diverged_at),
            **final_stats(history.test_accuracy, "test_accuracy", run.diverged_at),
            **final_stats(history.batch_accuracy, "batch_accuracy", run.diverged_at),
            "course_range": COURSE_RANGE if bn.name == COURSE_CONFIG else None,
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "batch_norm",
        "settings": {**config.to_dict(), "activation": "sigmoid", "weight_init": "Xavier",
                     "optimizer": f"course:sgd lr {config.lr}", "loss": "course softmax cross-entropy",
                     "batchnorm_conventions": {name: CONVENTIONS[name]._asdict() for name in CONVENTIONS}},
        "eval_steps": config.schedule.eval_steps, "runs": summaries,
        "compile_s": sum(r["compile_s"] for r in summaries), "run_s": sum(r["run_s"] for r in summaries),
    }


def write_outputs(workdir: pathlib.Path, result: dict[str, Any]) -> None:
    from jaxdl.report import figures  # matplotlib loads only when figures are drawn

    workdir.mkdir(parents=True, exist_ok=True)
    runs, seeds, steps = result["runs"], len(result["settings"]["seeds"]), result["eval_steps"]
    panels = [(f"{r['label']} ({r['final_test_accuracy_mean']:.3f}){divergence_note(r)}",
               {"training set (batch)": r["batch_accuracy"], "test set": r["test_accuracy"]}) for r in runs]
    figures.panel_grid(panels, steps, workdir / "figure.png", columns=3)
    figures.panel_grid([("test accuracy, all configs", {r["label"]: r["test_accuracy"] for r in runs})],
                       steps, workdir / "test_accuracy.png", columns=1)
    rows = [(r["label"], stats_cell(r, "final_test_accuracy", seeds), stats_cell(r, "final_batch_accuracy", seeds),
             course_cell(r["course_range"])) for r in runs]
    table = report.markdown_table(["config", f"test accuracy ({seeds} seeds)", "batch accuracy",
                                   "course (single runs)"], rows)
    report.write_results(workdir, table, result)


def train_and_evaluate(config: Config, workdir: str | pathlib.Path) -> dict[str, Any]:
    """Train each of `config.configs` on every seed (one program per config, seeds vmapped); write
    figure.png, test_accuracy.png, table.md and results.json into `workdir`; return the result."""

    def train(data: Data, mesh: Mesh) -> dict[str, Any]:
        configs = [BY_NAME[name] for name in config.configs]
        runs = train_each(config, data, [(bn.label, task_for(bn, config.hidden, config.lr), config.schedule)
                                         for bn in configs], course_init, mesh=mesh)
        return summarize(config, configs, runs)

    return run_experiment("batch_norm", config, workdir, lambda: load_data(config), train, write_outputs)
