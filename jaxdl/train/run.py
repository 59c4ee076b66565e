"""Whole training runs compiled as one program (lax.scan), batched over configs and seeds (vmap).

A run is the course's loop: each step draws a batch with replacement and takes one train
step; every `eval_every` steps it records, in test mode, the loss and accuracy on the
current batch (after the update, as the course logs them) and on the whole test set.
Data enter the program as arguments, never as closed-over constants, so one compiled
program serves every dataset of the same shapes.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data import sampling
from jaxdl.train.state import Batch, Task, TrainState
from jaxdl.train.step import make_eval_step, make_train_step


class Schedule(NamedTuple):
    steps: int
    batch_size: int
    eval_every: int

    def check(self) -> None:
        for name in self._fields:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.steps % self.eval_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})")

    @property
    def eval_steps(self) -> np.ndarray:
        """The 1-based step counts at which evaluations happen."""
        return np.arange(self.eval_every, self.steps + 1, self.eval_every)


class Data(NamedTuple):
    train_images: jax.Array
    train_labels: jax.Array
    test_images: jax.Array
    test_labels: jax.Array


class History(NamedTuple):
    loss: jax.Array  # (steps,) train-mode loss of each step, before its update
    batch_loss: jax.Array  # (evals,) test-mode loss on the step's batch, after the update
    batch_accuracy: jax.Array  # (evals,)
    test_loss: jax.Array  # (evals,) on the whole test set
    test_accuracy: jax.Array  # (evals,)


RunFn = Callable[[TrainState, jax.Array, Data], tuple[TrainState, History]]


def make_run(task: Task, schedule: Schedule) -> RunFn:
    """(state, data_key, data, first_step=0) -> (final state, history); pure, so jit/vmap apply.

    Step t (counted from `first_step`, the step a resumed run starts at) trains on the indices
    `with_replacement(data_key, t, ...)`. The batch depends on (data_key, t) alone, so runs
    that share a key share their batches even when their states are batched.
    """
    schedule.check()
    train_step = make_train_step(task)
    eval_step = make_eval_step(task)

    def run(state: TrainState, data_key: jax.Array, data: Data,
            first_step: int | jax.Array = 0) -> tuple[TrainState, History]:
        n_train = data.train_images.shape[0]

        def batch_at(step):
            idx = sampling.with_replacement(data_key, step, n_train, schedule.batch_size)
            return Batch(data.train_images[idx], data.train_labels[idx])

        def one_step(state, step):
            return train_step(state, batch_at(step))

        def one_interval(state, interval_start):
            steps = interval_start + jnp.arange(schedule.eval_every)
            state, step_losses = jax.lax.scan(one_step, state, steps)
            batch_metrics = eval_step(state, batch_at(steps[-1]))
            test_metrics = eval_step(state, Batch(data.test_images, data.test_labels))
            return state, (step_losses, *batch_metrics, *test_metrics)

        starts = first_step + jnp.arange(0, schedule.steps, schedule.eval_every)
        state, (step_losses, *evals) = jax.lax.scan(one_interval, state, starts)
        return state, History(step_losses.reshape(-1), *evals)

    return run


def over_configs_and_seeds(run: RunFn) -> RunFn:
    """Batch a run over states stacked as [seed, config, ...] and data keys stacked as [seed].

    Configs of one seed share its batches, so their first-layer matmuls fuse into one wider
    matmul (vmap folds the config axis into the weights' output dimension).
    """
    over_configs = jax.vmap(run, in_axes=(0, None, None, None))
    return jax.vmap(over_configs, in_axes=(0, 0, None, None))


def check_finite(history: History, labels: list[str]) -> None:
    """Raise if any run's loss went NaN or infinite, naming the run and the first bad step.

    `history.loss` is stacked [..., config, step] with one config per entry of `labels`.
    """
    loss = np.asarray(history.loss).reshape(-1, len(labels), history.loss.shape[-1])
    bad = ~np.isfinite(loss)
    if bad.any():
        seed, config, step = np.argwhere(bad)[0]
        raise FloatingPointError(
            f"run {labels[config]!r} (seed index {seed}) produced a non-finite loss at step "
            f"{step + 1}; lower the learning rate or check the inputs for NaN"
        )
