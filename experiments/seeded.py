"""One Task trained from several seeds in one compiled program, timed: the course experiments' runner."""

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import numpy as np

from experiments import common
from jaxdl.train.compile import compiler_options
from jaxdl.train.grid import make_grid_program, seed_inputs
from jaxdl.train.run import Data, History, Schedule, check_finite
from jaxdl.train.state import Task

SEED_AXES = ("vmap", "map")
InitFn = Callable[[np.random.RandomState], dict]  # the course's initial variables drawn from a seed's stream


class SeededRuns(NamedTuple):
    history: History  # NumPy arrays with a leading seed axis
    compile_s: float
    run_s: float


def train_seeds(task: Task, schedule: Schedule, data: Data, init: InitFn, seeds: Sequence[int], label: str,
                eval_train: bool = False, seed_axis: str = "vmap") -> SeededRuns:
    """`task` trained from each seed s as the course does after np.random.seed(s): `init` draws the
    weights from RandomState(s), then the batches are drawn from it (`jaxdl.train.grid.seed_inputs`).

    seed_axis "vmap" batches the seeds (wider matmuls; faster for the MLPs); "map" runs them one
    after another (lax.map) inside the same program (faster for the conv nets on CPU, where
    vmap turns convolutions into grouped ones and patch matmuls into batched ones). Both give
    the same runs up to float rounding.
    Raises FloatingPointError (naming `label`) if any seed's loss is not finite.
    """
    if seed_axis not in SEED_AXES:
        raise ValueError(f"unknown seed_axis {seed_axis!r}; choose one of {SEED_AXES}")
    started = time.perf_counter()
    inputs = seed_inputs(lambda rng: jax.tree.map(lambda leaf: leaf[None], init(rng)), seeds, schedule,
                         data.train_images.shape[0])
    program = make_grid_program(task, schedule, common.Progress(label, schedule.steps), eval_train)
    if seed_axis == "map":
        grid = program
        program = jax.jit(lambda inputs, data: jax.lax.map(
            lambda one: jax.tree.map(lambda a: a[0], grid(jax.tree.map(lambda a: a[None], one), data)), inputs))
    compiled = program.lower(inputs, data).compile(compiler_options=compiler_options())
    compiled_at = time.perf_counter()
    _, history = jax.block_until_ready(compiled(inputs, data))
    run_s = time.perf_counter() - compiled_at
    check_finite(history, [label])
    history = jax.tree.map(lambda a: np.asarray(a)[:, 0], history)
    return SeededRuns(history, compiled_at - started, run_s)
