"""Many configs and seeds of one program: a single compile, vmapped over configs and seeds.

Configs that share a program differ only in their initial variables (for the course's
MultiLayerNet with `switchable=True`: activation, batch norm and weight init), so one
compiled program trains all of them. Random draws happen on the host, as the course makes
them: seed s is np.random.RandomState(s), which first draws the initial weights and then
the batch indices (`np.random.choice` per step), so a config without dropout trains on
exactly the weights and batches of the course's NumPy code after np.random.seed(s). Within
a seed the configs share weights' draws and batches, which lets vmap fold the config axis
into wider matmuls. Dropout masks come from jax.random.key(s) inside the program.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.sampling import course_indices
from jaxdl.train.run import Data, History, Schedule, make_run
from jaxdl.train.state import Task, TrainState

InitFn = Callable[[np.random.RandomState], Any]  # the configs' variables stacked on axis 0


class SeedInputs(NamedTuple):
    """What each seed feeds a grid program, stacked on a leading seed axis."""

    variables: Any  # [S, C, ...] initial variables of the C configs
    indices: np.ndarray  # [S, steps, batch_size] training indices
    dropout_keys: jax.Array  # [S]


def seed_inputs(init_configs: InitFn, seeds: Sequence[int], schedule: Schedule, n_train: int) -> SeedInputs:
    """For each seed s: rng = RandomState(s); variables = init_configs(rng); then the indices."""
    variables, indices = [], []
    for seed in seeds:
        rng = np.random.RandomState(seed)
        variables.append(init_configs(rng))
        indices.append(course_indices(rng, schedule.steps, n_train, schedule.batch_size))
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *variables)
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
    return SeedInputs(stacked, np.stack(indices), keys)


def make_grid_program(task: Task, schedule: Schedule, on_eval: Callable[[jax.Array], None] | None = None,
                      eval_train: bool = False):
    """A jitted (SeedInputs, data) -> (final states [S, C], histories [S, C, ...]).

    Every config trains with `task`'s step on its seed's batches; `on_eval` and
    `eval_train` as in `make_run`.
    """
    run = make_run(task, schedule, on_eval, eval_train)

    def one_seed(variables: Any, indices: jax.Array, dropout_key: jax.Array,
                 data: Data) -> tuple[TrainState, History]:
        states = jax.vmap(lambda v: task.state_from(v, dropout_key))(variables)
        return jax.vmap(run, in_axes=(0, None, None))(states, indices, data)

    per_seed = jax.vmap(one_seed, in_axes=(0, 0, 0, None))
    return jax.jit(lambda inputs, data: per_seed(*inputs, data))
