"""Study text Section 2 (course 2_4): SGD, Momentum, AdaGrad, RMSprop and Adam on the course network.

MultiLayerNet [40, 20], sigmoid, weight init std 0.01, no batch norm, on MNIST; batch 100
drawn with replacement, 1000 steps, W and b updated (the notebook's loops); every 10 steps (the
2_4 notebook's plot_interval) the accuracy on the current batch and on all 10,000 test
images. Optimizers are "family:name" specs of jaxdl.optim, by default the notebook's loops with
the 2_4 learning rates (SGD 0.01, Momentum 0.3/0.9, AdaGrad 0.1 in the notebook's form, RMSprop
0.01/0.99, Adam 0.01); hparam "notebook:momentum:learning_rate=0.5" overrides one value.

Every optimizer x seed trains in one compiled program (seeds vmapped, optimizers side by
side). Seed s is np.random.RandomState(s), which draws the initial weights and then the
batches as the course's code does after np.random.seed(s), so seed s has the same weights
and batches under every optimizer and in the course's NumPy code. lr_sweep
adds a second program over optimizers x a log grid of learning rates x seeds (the rate lives
in the optimizer state, optax.inject_hyperparams); runs whose loss goes NaN count as diverged.
Writes accuracy.png, loss.png, table.md, results.json (and lr_sweep.png).
Published (course 2_4, single unseeded runs): SGD 0.1135 (chance), Momentum 0.935,
AdaGrad 0.918, RMSprop 0.936-0.942, Adam 0.943-0.948.
"""

import dataclasses
import math
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from jaxdl import optim, report
from jaxdl.course.experiment import CourseConfig, divergence, load_data, run_experiment
from jaxdl.course.optimizers_report import median_range, write_outputs
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.train.compile import compile_and_run
from jaxdl.train.grid import SeedInputs, make_grid_program, seed_inputs
from jaxdl.train.run import Data, History, Schedule, diverged_at, make_run
from jaxdl.train.state import Task, TrainState

DEFAULT_OPTIMIZERS = ("notebook:sgd", "notebook:momentum", "notebook:adagrad", "notebook:rmsprop", "notebook:adam")
# Published single-run final test accuracies of the 2_4 notebook, as (low, high).
COURSE_RESULTS = {"notebook:sgd": (0.1135, 0.1135), "notebook:momentum": (0.935, 0.935),
                  "notebook:adagrad": (0.918, 0.918), "notebook:rmsprop": (0.936, 0.942),
                  "notebook:adam": (0.943, 0.948)}
DEFAULT_SWEEP = tuple(float(lr) for lr in np.logspace(-4, 1, 11))  # 1e-4 ... 10, half-decade steps

Hparams = dict[str, dict[str, float]]


@dataclasses.dataclass(frozen=True)
class Config(CourseConfig):
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS  # "family:name" specs of jaxdl.optim
    hparam: tuple[str, ...] = ()  # "family:name:key=value" overrides of one listed optimizer's value
    hidden: tuple[int, ...] = (40, 20)
    batchnorm: bool = False  # course batch norm after each hidden Affine
    update: str = "affine"  # "affine": W and b only, as the notebook's loops; "all": batch-norm gamma/beta too
    target: float = 0.9  # test accuracy for the steps-to-target column
    lr_sweep: bool = False  # also sweep the learning rate of each optimizer
    sweep_lrs: tuple[float, ...] = DEFAULT_SWEEP
    sweep_eval_every: int = 100  # steps between the sweep's evaluations (it reports the final accuracy)

    def check(self) -> None:
        """Every setting, each optimizer spec and hyperparameter included, before any work."""
        super().check()
        if self.update not in ("affine", "all"):
            raise ValueError(f"update (--update) must be affine or all, got {self.update!r}")
        if len(set(self.optimizers)) < len(self.optimizers) or not self.optimizers:
            raise ValueError(f"--optimizers lists a spec twice (or none): {' '.join(self.optimizers)}")
        hparams = self.hparams
        for spec in self.optimizers:
            optim.describe(spec, **hparams[spec])  # unknown specs or hyperparameters fail here
        if not 0 < self.target <= 1:
            raise ValueError(f"target (--target) is a test accuracy in (0, 1], got {self.target!r}")
        if self.lr_sweep:
            if not self.sweep_lrs or not all(math.isfinite(lr) and lr > 0 for lr in self.sweep_lrs):
                raise ValueError(f"--sweep-lrs must be positive, got {list(self.sweep_lrs)}")
            if self.sweep_eval_every < 1 or self.steps % self.sweep_eval_every:
                raise ValueError(f"--sweep-eval-every ({self.sweep_eval_every}) must be positive and divide "
                                 f"--steps ({self.steps})")

    def networks_per_seed(self) -> int:
        return len(self.optimizers) * (len(self.sweep_lrs) if self.lr_sweep else 1)

    @property
    def hparams(self) -> "Hparams":
        return parse_hparams(list(self.hparam), list(self.optimizers))


def parse_hparams(entries: list[str], specs: list[str]) -> Hparams:
    """{spec: {name: value}} from "family:name:key=value" entries, for specs listed in `specs`."""
    parsed: Hparams = {spec: {} for spec in specs}
    for entry in entries:
        spec, _, assignment = entry.rpartition(":")
        key, equals, value = assignment.partition("=")
        if not spec or not equals or not key:
            raise ValueError(f"bad --hparam {entry!r}: expected FAMILY:NAME:KEY=VALUE, "
                             "e.g. notebook:momentum:learning_rate=0.3")
        if spec not in parsed:
            raise ValueError(f"--hparam {entry!r} names {spec!r}, which is not in --optimizers ({', '.join(specs)})")
        try:
            parsed[spec][key] = float(value)
        except ValueError:
            raise ValueError(f"bad --hparam {entry!r}: {value!r} is not a number") from None
    return parsed


def course_network(input_size: int, hidden: tuple[int, ...], batchnorm: bool) -> MultiLayerNet:
    """The 2_4 network: sigmoid, W = 0.01 * randn, optional course batch norm."""
    return MultiLayerNet(input_size, tuple(hidden), 10, activation="sigmoid", weight_init=0.01,
                         use_batchnorm=batchnorm)


ProgressFor = Callable[[str], Callable[[jax.Array], None]]  # optimizer name -> on_eval callback


def comparison_program(tasks: dict[str, Task], schedule: Schedule, progress: ProgressFor | None = None):
    """Jitted (SeedInputs, data) -> {name: (states [S], histories [S, ...])} for every task, in one program.

    Every task trains from the same inputs, so seed s starts from the same weights and draws
    the same batches under every optimizer.
    """
    programs = {name: make_grid_program(task, schedule, progress(name) if progress else None, config_axis=False)
                for name, task in tasks.items()}

    def program(inputs: SeedInputs, data: Data) -> dict[str, tuple[TrainState, History]]:
        return {name: grid(inputs, data) for name, grid in programs.items()}

    return jax.jit(program)


def course_seed_inputs(model: MultiLayerNet, seed_list: list[int], schedule: Schedule, n_train: int) -> SeedInputs:
    """Each seed's course initialisation (np.random.RandomState(s)) and batch indices, one config."""
    return seed_inputs(lambda rng: course_init(model, rng), seed_list, schedule, n_train)


def sweep_program(tasks: dict[str, Task], schedule: Schedule, progress: ProgressFor | None = None):
    """Jitted (SeedInputs, learning_rates [L], data) -> {name: (states [S, L], histories [S, L, ...])}.

    Each task's optimizer must come from optim.create(..., inject=True); member (s, l) is the
    run of seed s (same inputs as `comparison_program`) with learning_rate = learning_rates[l]
    set in its optimizer state. Members of one seed share initial weights and batches.
    """

    def members(task: Task, on_eval: Callable | None) -> Callable:
        run = make_run(task, schedule, on_eval)

        def member(variables, indices, dropout_key, learning_rate, data: Data) -> tuple[TrainState, History]:
            state = task.state_from(variables, dropout_key)
            opt_state = optax.tree_utils.tree_set(state.opt_state, learning_rate=learning_rate.astype(jnp.float32))
            return run(state._replace(opt_state=opt_state), indices, data)

        over_rates = jax.vmap(member, in_axes=(None, None, None, 0, None))
        return jax.vmap(over_rates, in_axes=(0, 0, 0, None, None))

    grids = {name: members(task, progress(name) if progress else None) for name, task in tasks.items()}
    return jax.jit(lambda inputs, learning_rates, data: {
        name: grid(*inputs, learning_rates, data) for name, grid in grids.items()})


def steps_to_target(test_accuracy: np.ndarray, eval_steps: np.ndarray, target: float) -> list[int | None]:
    """Per seed (rows of `test_accuracy` [S, evals]): the first eval step with accuracy >= target, else None."""
    reached = test_accuracy >= target
    return [int(eval_steps[row.argmax()]) if row.any() else None for row in reached]


def run_comparison(config: Config, model: MultiLayerNet, data: Data, mesh: Mesh | None = None) -> dict[str, Any]:
    """Train every optimizer on every seed: {"runs": one record per optimizer, "compile_s", "run_s"}.

    A seed whose loss or parameters go non-finite is recorded in its optimizer's record
    ("diverged_at_step") and left out of the final statistics; the other runs are unaffected.
    """
    hparams, schedule = config.hparams, config.schedule
    tasks = {spec: Task(model, optim.create(spec, **hparams[spec]), trainable=config.update)
             for spec in config.optimizers}
    program = comparison_program(tasks, schedule, lambda spec: report.Progress(f"{spec} ({config.seeds} seeds)",
                                                                              config.steps))
    inputs = course_seed_inputs(model, config.seed_list, schedule, data.train_images.shape[0])
    outputs, compile_s, run_s = compile_and_run(program, inputs, data, mesh=mesh)
    runs = []
    for spec in config.optimizers:  # the program's output dict comes back in sorted key order
        states, history = outputs[spec]
        history = jax.tree.map(np.asarray, history)
        diverged = diverged_at(history.step_loss, states.params)
        runs.append(summarize_run(spec, hparams[spec], history, diverged, schedule, config.target))
    return {"runs": runs, "compile_s": compile_s, "run_s": run_s}


def summarize_run(spec: str, hparams: dict[str, float], history: History, diverged: np.ndarray,
                  schedule: Schedule, target: float) -> dict:
    """The record of one optimizer: curves per seed, the seeds that diverged, final accuracy statistics
    of the others (NaN when all diverged), steps to `target`, and the course's published numbers
    (when the spec runs with its default hyperparameters)."""
    final = history.test_accuracy[:, -1]
    median, low, high = (float(v[0]) for v in median_range(np.where(diverged == 0, final, np.nan)[:, None]))
    return {
        "optimizer": spec, "hparams": hparams, "formula": optim.describe(spec, **hparams),
        **{name: curve for name, curve in history._asdict().items() if curve is not None},
        **divergence(spec, diverged),
        "final_test_accuracy": final, "final_test_accuracy_median": float(median),
        "final_test_accuracy_min": float(low), "final_test_accuracy_max": float(high),
        "steps_to_target": steps_to_target(history.test_accuracy, schedule.eval_steps, target),
        "course": None if hparams else COURSE_RESULTS.get(spec),
    }


def run_sweep(config: Config, model: MultiLayerNet, data: Data, mesh: Mesh | None = None) -> dict[str, Any]:
    """Final test accuracy of every optimizer x learning rate x seed; runs whose loss goes NaN are
    marked diverged (their accuracy is NaN) instead of failing."""
    hparams, schedule = config.hparams, config.schedule._replace(eval_every=config.sweep_eval_every)
    tasks = {spec: Task(model, optim.create(spec, inject=True, **hparams[spec]), trainable=config.update)
             for spec in config.optimizers}
    label = f"{len(config.sweep_lrs)} rates x {config.seeds} seeds"
    program = sweep_program(tasks, schedule, lambda spec: report.Progress(f"{spec} sweep ({label})", config.steps))
    rates = jnp.asarray(config.sweep_lrs, jnp.float32)
    inputs = course_seed_inputs(model, config.seed_list, schedule, data.train_images.shape[0])
    outputs, compile_s, run_s = compile_and_run(program, inputs, rates, data, mesh=mesh)
    runs = []
    for spec in config.optimizers:
        states, history = outputs[spec]
        history = jax.tree.map(np.asarray, history)
        diverged = diverged_at(history.step_loss, states.params) > 0  # [S, L]
        runs.append({"optimizer": spec, "hparams": hparams[spec], "formula": optim.describe(spec, **hparams[spec]),
                     "final_test_accuracy": np.where(diverged, np.nan, history.test_accuracy[..., -1]),
                     "diverged": diverged})
    return {"learning_rates": list(config.sweep_lrs), "eval_every": config.sweep_eval_every, "runs": runs,
            "compile_s": compile_s, "run_s": run_s}


def train_and_evaluate(config: Config, workdir: str | pathlib.Path) -> dict[str, Any]:
    """Every optimizer x seed in one program (and with lr_sweep, optimizers x rates x seeds in a
    second); write accuracy.png, loss.png, table.md, results.json (and lr_sweep.png) into
    `workdir`; return the result."""

    def train(data: Data, mesh: Mesh) -> dict[str, Any]:
        model = course_network(int(np.prod(data.train_images.shape[1:])), config.hidden, config.batchnorm)
        result = {
            "experiment": "optimizers",
            "settings": {**config.to_dict(), "activation": "sigmoid", "weight_init": 0.01,
                         "test_size": int(data.test_labels.shape[0]), "loss": "course softmax cross-entropy"},
            "eval_steps": config.schedule.eval_steps,
            **run_comparison(config, model, data, mesh),
        }
        if config.lr_sweep:
            result["lr_sweep"] = run_sweep(config, model, data, mesh)
        return result

    return run_experiment("optimizers", config, workdir, lambda: load_data(config), train, write_outputs)
