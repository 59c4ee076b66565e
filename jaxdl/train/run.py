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


def make_run(task: Task, schedule: Schedule, on_eval: Callable[[jax.Array], None] | None = None) -> RunFn:
    """(state, data_key, data, first_step=0) -> (final state, history); pure, so jit/vmap apply.

    Step t (counted from `first_step`, the step a resumed run starts at) trains on the indices
    `with_replacement(data_key, t, ...)`. The batch depends on (data_key, t) alone, so runs
    that share a key share their batches even when their states are batched.
    `on_eval(step)` is called on the host after each evaluation (e.g. to show progress); the
    step it gets is unbatched, so a vmapped run calls it once per evaluation.
    """
    schedule.check()
    train_step = make_train_step(task)
    eval_step = make_eval_step(task)

    def run(state: TrainState, data_key: jax.Array, data: Data,
            first_step: int | jax.Array = 0) -> tuple[TrainState, History]:
        n_train = data.train_images.shape[0]
        steps = first_step + jnp.arange(schedule.steps)
        # All draws up front: the loop body stays free of random-number code.
        indices = jax.vmap(lambda t: sampling.with_replacement(data_key, t, n_train, schedule.batch_size))(steps)
        indices = indices.reshape(-1, schedule.eval_every, schedule.batch_size)

        def batch_at(idx):
            return Batch(data.train_images[idx], data.train_labels[idx])

        def one_step(state, idx):
            return train_step(state, batch_at(idx))

        def one_interval(state, interval):
            interval_indices, last_step = interval
            state, step_losses = jax.lax.scan(one_step, state, interval_indices)
            batch_metrics = eval_step(state, batch_at(interval_indices[-1]))
            test_metrics = eval_step(state, Batch(data.test_images, data.test_labels))
            if on_eval is not None:
                jax.debug.callback(on_eval, last_step + 1)
            return state, (step_losses, *batch_metrics, *test_metrics)

        last_steps = steps[schedule.eval_every - 1::schedule.eval_every]
        state, (step_losses, *evals) = jax.lax.scan(one_interval, state, (indices, last_steps))
        return state, History(step_losses.reshape(-1), *evals)

    return run


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
