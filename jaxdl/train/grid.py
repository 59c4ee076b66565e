"""Many configs and seeds of one program: a single compile, vmapped over configs and seeds.

Configs that share a program differ only in their initial variables (for the course's
MultiLayerNet with `switchable=True`: activation, batch norm and weight init), so one
compiled program trains all of them. Within a seed the configs share their batches, which
lets vmap fold the config axis into wider matmuls; seeds differ in initial draws, batches
and dropout masks.
"""

from collections.abc import Callable
from typing import Any

import jax

from jaxdl.train.run import Data, History, Schedule, make_run
from jaxdl.train.state import Task, TrainState

InitFn = Callable[[jax.Array], Any]  # key -> variables stacked over configs on axis 0


def make_grid_program(task: Task, schedule: Schedule, init_configs: InitFn,
                      on_eval: Callable[[jax.Array], None] | None = None):
    """A jitted (seed_keys [S], data) -> (final states [S, C], histories [S, C, ...]).

    For each seed key: split into (init, data, dropout) keys; `init_configs(init_key)` gives
    the C configs' variables; every config trains with `task`'s step on the seed's batches.
    """
    run = make_run(task, schedule, on_eval)

    def one_seed(key: jax.Array, data: Data) -> tuple[TrainState, History]:
        init_key, data_key, dropout_key = jax.random.split(key, 3)
        variables = init_configs(init_key)
        states = jax.vmap(lambda v: task.state_from(v, dropout_key))(variables)
        return jax.vmap(run, in_axes=(0, None, None))(states, data_key, data)

    return jax.jit(jax.vmap(one_seed, in_axes=(0, None)))
