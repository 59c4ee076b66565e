"""A workload's whole sweep, optimizers x trials x seeds, as one compiled program.

For each optimizer the K trials are the configs of `jaxdl.train.grid.make_grid_program` (vmapped
inside the vmap over the S seeds): they share seed s's initial weights and batches and differ only
in their hyperparameters, which live in the optimizer state (`specs.tunable`) and are written into
it per trial when the states are built (`TrialTask.state_from`). The optimizers' grids and the final
evaluation of every network on the test set are traced into one jitted function, compiled once
per workload. During training the grid's "test" evaluations run on the validation split, so the
histories are validation curves; the test set enters only that final evaluation.

member_axis "vmap" (the MLP workloads' default) batches the S x K runs of an optimizer; "map" (the conv
nets' default) runs them one after another (lax.map) inside the same program, because vmapped
convolutions become grouped ones, which XLA runs several times slower on CPU (as
`jaxdl.train.grid.train_seeds`'s seed_axis). Both give the same runs up to float rounding.
With a `mesh` of several devices (jaxdl.parallel) every run is its own member ([S * K, 1] instead
of [S, K]), and the S x K runs are split over the devices (`compile_and_run`), with no communication.
"""

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl import report
from jaxdl.compare import specs
from jaxdl.compare.workloads import Splits, Workload
from jaxdl.train.compile import compile_and_run
from jaxdl.train.grid import EVAL_ROWS, SEED_AXES, SeedInputs, in_chunks, make_grid_program, seed_inputs
from jaxdl.train.run import Data, Schedule, diverged_at
from jaxdl.train.state import Batch, Task, TrainState
from jaxdl.train.step import make_eval_step


@dataclasses.dataclass(frozen=True)
class TrialTask(Task):
    """A Task whose variables carry a "trial" collection ({hyperparameter: value}) that `state_from`
    moves into the optimizer state (`specs.set_trial`) instead of handing it to the model."""

    def state_from(self, variables: dict, rng: jax.Array) -> TrainState:
        rest = {name: tree for name, tree in variables.items() if name != "trial"}
        state = super().state_from(rest, rng)
        return state._replace(opt_state=specs.set_trial(state.opt_state, variables.get("trial", {})))


class Arm(NamedTuple):
    """One optimizer of a sweep: its spec, the tuned names and the K trials' values."""

    spec: specs.OptimizerSpec
    trials: list[dict[str, float]]  # K settings {name: value}; {} entries when nothing is tuned

    @property
    def tuned(self) -> dict[str, float]:
        """A placeholder value per tuned name (the first trial's), for building the transform."""
        return dict(self.trials[0])


class ArmRuns(NamedTuple):
    """NumPy arrays [S, K, ...] of one optimizer's runs."""

    val_accuracy: np.ndarray  # [S, K, evals]
    val_loss: np.ndarray  # [S, K, evals]
    step_loss: np.ndarray  # [S, K, steps]
    test_accuracy: np.ndarray  # [S, K] of the final networks
    test_loss: np.ndarray  # [S, K]
    diverged_at: np.ndarray  # [S, K] 1-based step, 0 if never
    seconds_per_step: float  # this optimizer's loop in the program, measured at its evaluations


class SweepResult(NamedTuple):
    runs: dict[str, ArmRuns]  # by spec text
    compile_s: float
    run_s: float


class StepClock:
    """An `on_eval` callback: shows progress and records the host time of each evaluation.

    `passes` is how many times the loop runs one after another (the runs of a "map" sweep), each
    calling back after every `eval_every` steps."""

    def __init__(self, label: str, steps: int, eval_every: int, passes: int = 1):
        self.progress, self.times = report.Progress(label, steps), []
        self.steps, self.eval_every, self.passes = steps, eval_every, passes

    def __call__(self, step: Any) -> None:
        self.times.append(time.perf_counter())
        self.progress(step)

    def seconds_per_step(self) -> float:
        """The sweep's seconds per step (one step of every run of the optimizer): the time between the
        first and the last evaluation over the loop steps between them (passes x steps - eval_every),
        times `passes`; NaN with one evaluation. (Devices running in parallel call back at the same
        times, so their repeated calls change neither end.)"""
        between = self.passes * self.steps - self.eval_every
        if len(self.times) < 2 or between <= 0:
            return float("nan")
        return (self.times[-1] - self.times[0]) / between * self.passes


def arm_task(workload: Workload, arm: Arm, schedule: specs.Multiplier | None) -> TrialTask:
    return TrialTask(workload.model(), specs.tunable(arm.spec, arm.tuned, schedule), loss="course")


def arm_inputs(workload: Workload, model: Any, arm: Arm, seeds: Sequence[int], schedule: Schedule,
               n_train: int) -> SeedInputs:
    """Seed s: its course draws (weights, then batches) shared by the K trials, plus their values."""
    trial = {name: np.asarray([t[name] for t in arm.trials], np.float32) for name in arm.trials[0]}

    def init(rng: np.random.RandomState) -> dict:
        variables = workload.init(model, rng)
        stacked = jax.tree.map(lambda leaf: np.repeat(np.asarray(leaf)[None], len(arm.trials), 0), variables)
        return {**stacked, "trial": trial}

    return seed_inputs(init, seeds, schedule, n_train)


def members_of(inputs: SeedInputs) -> SeedInputs:
    """[S, K] inputs as [S * K, 1]: member s * K + k is trial k on seed s, with seed s's batches and key."""
    seeds, configs = jax.tree.leaves(inputs.variables)[0].shape[:2]
    seed_of = np.repeat(np.arange(seeds), configs)
    return SeedInputs(jax.tree.map(lambda a: np.asarray(a).reshape(seeds * configs, 1, *a.shape[2:]),
                                   inputs.variables),
                      np.asarray(inputs.indices)[seed_of], inputs.dropout_keys[jnp.asarray(seed_of)])


def one_at_a_time(grid: Callable) -> Callable:
    """A grid program (SeedInputs [S, K], data) -> (states, histories [S, K, ...]) that runs its S x K
    members one after another (lax.map), each as a 1-seed, 1-config grid on its seed's batches."""

    def run(inputs: SeedInputs, data: Data):
        seeds, configs = jax.tree.leaves(inputs.variables)[0].shape[:2]
        seed_of = jnp.repeat(jnp.arange(seeds), configs)
        members = SeedInputs(jax.tree.map(lambda a: a.reshape(seeds * configs, 1, 1, *a.shape[2:]), inputs.variables),
                             inputs.indices[seed_of][:, None], inputs.dropout_keys[seed_of][:, None])
        outputs = jax.lax.map(lambda one: jax.tree.map(lambda a: a[0, 0], grid(one, data)), members)
        return jax.tree.map(lambda a: a.reshape(seeds, configs, *a.shape[1:]), outputs)

    return run


def one_at_a_time_eval(eval_step: Callable) -> Callable:
    """(states [M], batch) -> metrics [M]: `eval_step` on each state in turn (lax.map)."""
    return lambda states, batch: jax.lax.map(lambda member: in_chunks(eval_step)(member, batch), states)


def sweep_program(tasks: dict[str, Task], schedule: Schedule, on_eval: dict[str, Callable] | None = None,
                  n_networks: int = 1, member_axis: str = "vmap"):
    """Jitted (inputs {name: SeedInputs}, data (validation as its test split), test Batch) ->
    {name: (final params [S, K], validation histories [S, K, ...], test metrics [S, K])}."""
    if member_axis not in SEED_AXES:
        raise ValueError(f"unknown member_axis {member_axis!r}; choose one of {SEED_AXES}")
    grids = {name: make_grid_program(task, schedule, (on_eval or {}).get(name)) for name, task in tasks.items()}
    if member_axis == "map":
        grids = {name: one_at_a_time(grid) for name, grid in grids.items()}
        tests = {name: one_at_a_time_eval(make_eval_step(task)) for name, task in tasks.items()}
    else:
        tests = {name: in_chunks(jax.vmap(jax.vmap(make_eval_step(task), in_axes=(0, None)), in_axes=(0, None)),
                                 max(1, EVAL_ROWS // n_networks)) for name, task in tasks.items()}

    def program(inputs: dict[str, SeedInputs], data: Data, test: Batch):
        outputs = {}
        for name, grid in grids.items():
            final, history = grid(inputs[name], data)
            if member_axis == "map":
                flat = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), final)
                tested = jax.tree.map(lambda a: a.reshape(final.step.shape), tests[name](flat, test))
            else:
                tested = tests[name](final, test)
            outputs[name] = (final.params, history, tested)
        return outputs

    return jax.jit(program)


def run_sweep(workload: Workload, splits: Splits, arms: list[Arm], seeds: Sequence[int], schedule: Schedule,
              lr_schedule: specs.Multiplier | None, member_axis: str | None = None,
              mesh: Mesh | None = None) -> SweepResult:
    """Every arm x trial x seed of `workload` trained in one compiled program; validation curves,
    final test metrics and divergence per run. member_axis None: the workload's own on one device,
    "vmap" on several (`mesh`), which split the runs between them."""
    devices = 1 if mesh is None else mesh.size
    member_axis = member_axis or (workload.member_axis if devices == 1 else "vmap")
    if devices > 1 and member_axis == "map":
        raise ValueError(f"--member-axis map runs a sweep's runs one after another on one device; with --devices "
                         f"{devices} give --member-axis vmap (or leave it out)")
    tasks = {arm.spec.text: arm_task(workload, arm, lr_schedule) for arm in arms}
    model = next(iter(tasks.values())).model
    n_train = splits.train_images.shape[0]
    inputs = {arm.spec.text: arm_inputs(workload, model, arm, seeds, schedule, n_train) for arm in arms}
    one_by_one = " one after another" if member_axis == "map" else ""
    clocks = {arm.spec.text: StepClock(f"{workload.name} {arm.spec.text} ({len(arm.trials)} trials x {len(seeds)} "
                                       f"seeds{one_by_one})", schedule.steps, schedule.eval_every,
                                       len(arm.trials) * len(seeds) if member_axis == "map" else 1) for arm in arms}
    program = sweep_program(tasks, schedule, clocks, len(seeds) * max(len(arm.trials) for arm in arms), member_axis)
    data = Data(jnp.asarray(splits.train_images), jnp.asarray(splits.train_labels),
                jnp.asarray(splits.val_images), jnp.asarray(splits.val_labels))
    test = Batch(jnp.asarray(splits.test_images), jnp.asarray(splits.test_labels))
    if devices > 1:
        if len({len(arm.trials) for arm in arms}) > 1:
            raise ValueError("runs split over devices need the same number of trials for every optimizer")
        inputs = {name: members_of(one) for name, one in inputs.items()}
    outputs, compile_s, run_s = compile_and_run(program, inputs, data, test, mesh=mesh)
    if devices > 1:  # [S * K, 1, ...] back to [S, K, ...]
        shape = (len(seeds), len(arms[0].trials))
        outputs = {name: jax.tree.map(lambda a: np.asarray(a).reshape(*shape, *np.shape(a)[2:]), output)
                   for name, output in outputs.items()}
    runs = {}
    for name, (params, history, tested) in outputs.items():
        history = jax.tree.map(np.asarray, history)
        runs[name] = ArmRuns(history.test_accuracy, history.test_loss, history.step_loss,
                             np.asarray(tested["accuracy"]), np.asarray(tested["loss"]),
                             diverged_at(history.step_loss, params), clocks[name].seconds_per_step())
    return SweepResult({arm.spec.text: runs[arm.spec.text] for arm in arms}, compile_s, run_s)
