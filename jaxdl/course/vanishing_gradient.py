"""Study text Section 1 (course 2_2_2): activation x weight init x batch norm, one compiled program.

MultiLayerNet [40, 20] on MNIST, SGD lr 0.1 on W and b only (the notebook's loop leaves
gamma/beta at 1/0), batch 100 drawn with replacement, 2000 steps; test accuracy on all
10,000 test images and accuracy on the current batch every 100 steps. All 12 configs x the
seeds train in one program (`MultiLayerNet(switchable=True)` holds activation and batch
norm as data). Writes figure.png (the study text's 4x3 grid), results.json and table.md.
The course's published single-run test accuracies are in COURSE_RANGES.
"""

import dataclasses
import itertools
import pathlib
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import Mesh

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
)
from jaxdl.models.mlp import MultiLayerNet, init_variants
from jaxdl.train.compile import compile_and_run
from jaxdl.train.grid import make_grid_program, seed_inputs
from jaxdl.train.run import Data, History, diverged_at
from jaxdl.train.state import Task

ACTIVATIONS = ("sigmoid", "relu")
INITS = ("0.01", "Xavier", "He")
BATCHNORM = (False, True)
UPDATES = ("affine", "all")
# Published single-run test accuracies of course notebook 2_2_2 (low, high); the course gives none
# for the other configs.
COURSE_RANGES = {("sigmoid", "0.01", False): (0.098, 0.114), ("relu", "0.01", False): (0.916, 0.929),
                 ("sigmoid", "Xavier", False): (0.872, 0.891), ("relu", "He", False): (0.955, 0.961)}
Label = tuple[str, str, bool]  # (activation, weight init, batch norm)


@dataclasses.dataclass(frozen=True)
class Config(CourseConfig):
    steps: int = 2000
    eval_every: int = 100
    lr: float = 0.1
    hidden: tuple[int, ...] = (40, 20)
    update: str = "affine"  # "affine": W and b only, as the notebook's loop; "all": gamma/beta too

    def check(self) -> None:
        super().check()
        if self.update not in UPDATES:
            raise ValueError(f"update (--update) must be one of {', '.join(UPDATES)}, got {self.update!r}")


    def networks_per_seed(self) -> int:
        return len(ACTIVATIONS) * len(INITS) * len(BATCHNORM)


def weight_init(name: str) -> float | str:
    return float(name) if name[0].isdigit() else name


def configs(hidden: tuple[int, ...]) -> list[tuple[Label, MultiLayerNet]]:
    """The 12 (label, network) pairs, activation x init x batch norm, in the study text's order."""
    return [((act, init, bn), MultiLayerNet(784, tuple(hidden), 10, activation=act, weight_init=weight_init(init),
                                            use_batchnorm=bn, switchable=True))
            for act, init, bn in itertools.product(ACTIVATIONS, INITS, BATCHNORM)]


def train_grid(config: Config, grid: list[tuple[Label, MultiLayerNet]], data: Data,
               show_progress: bool = True, mesh: Mesh | None = None) -> tuple[History, np.ndarray, float, float]:
    """Every config x seed in one program, the seeds split over `mesh`'s devices: (history [seeds,
    configs, ...], the step each run diverged at [seeds, configs] (0: never), compile seconds, run seconds)."""
    if len({(m.activation, m.use_batchnorm) for _, m in grid}) == 1:  # one structure: no switches needed
        grid = [(label, m.clone(switchable=False)) for label, m in grid]
    task = Task(grid[0][1], optax.sgd(config.lr), loss="course", trainable=config.update)
    progress = report.Progress(f"vanishing_gradient ({len(grid)} configs x {config.seeds} seeds)",
                               config.steps) if show_progress else None
    inputs = seed_inputs(lambda rng: init_variants([m for _, m in grid], rng), config.seed_list, config.schedule,
                         data.train_images.shape[0])
    (final, history), compile_s, run_s = compile_and_run(make_grid_program(task, config.schedule, progress),
                                                         inputs, data, mesh=mesh)
    history = jax.tree.map(np.asarray, history)
    return history, diverged_at(history.step_loss, final.params), compile_s, run_s


def summarize(config: Config, grid: list[tuple[Label, MultiLayerNet]], history: History,
              diverged: np.ndarray) -> dict[str, Any]:
    test = np.asarray(history.test_accuracy)  # [seeds, configs, evals]
    batch = np.asarray(history.batch_accuracy)
    runs = [{"activation": act, "weight_init": init, "batchnorm": bn,
             "test_accuracy": test[:, c], "batch_accuracy": batch[:, c],
             "batch_loss": np.asarray(history.batch_loss)[:, c], "step_loss": np.asarray(history.step_loss)[:, c],
             **divergence(f"{act}, {init}, batch norm {bn}", diverged[:, c]),
             **final_stats(test[:, c], "test_accuracy", diverged[:, c]),
             "course_range": COURSE_RANGES.get((act, init, bn))}
            for c, ((act, init, bn), _) in enumerate(grid)]
    return {"experiment": "vanishing_gradient",
            "settings": {**config.to_dict(), "optimizer": "SGD", "loss": "course softmax cross-entropy",
                         "batchnorm": "course"},
            "eval_steps": config.schedule.eval_steps, "runs": runs}


def write_outputs(workdir: pathlib.Path, result: dict[str, Any]) -> None:
    from jaxdl.report import figures  # matplotlib loads only when figures are drawn

    workdir.mkdir(parents=True, exist_ok=True)
    runs, seeds = result["runs"], len(result["settings"]["seeds"])
    panels = [(f"{r['activation']}, {r['weight_init']}, batch norm {r['batchnorm']} "
               f"({r['final_test_accuracy_mean']:.2f}){divergence_note(r)}",
               {"training set (batch)": r["batch_accuracy"], "test set": r["test_accuracy"]}) for r in runs]
    figures.panel_grid(panels, result["eval_steps"], workdir / "figure.png", columns=3)
    rows = [(r["activation"], r["weight_init"], r["batchnorm"], stats_cell(r, "final_test_accuracy", seeds),
             course_cell(r["course_range"])) for r in runs]
    table = report.markdown_table(
        ["activation", "init", "batch norm", f"test accuracy ({seeds} seeds)", "course (single runs)"], rows)
    report.write_results(workdir, table, result)


def train_and_evaluate(config: Config, workdir: str | pathlib.Path) -> dict[str, Any]:
    """Train the 12 configs x `config.seeds` seeds in one program; write figure.png, table.md and
    results.json into `workdir`; return the result (as results.json holds it, arrays as NumPy)."""

    def train(data: Data, mesh: Mesh) -> dict[str, Any]:
        grid = configs(config.hidden)
        history, diverged, compile_s, run_s = train_grid(config, grid, data, mesh=mesh)
        return {**summarize(config, grid, history, diverged), "compile_s": compile_s, "run_s": run_s}

    return run_experiment("vanishing_gradient", config, workdir, lambda: load_data(config), train, write_outputs)
