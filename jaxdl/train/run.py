"""Whole training runs compiled as one program (lax.scan), batched over configs and seeds (vmap).

A run is the course's loop: each step takes one train step on its batch (indices given as
data, drawn on the host with replacement as the course draws them); every `eval_every` steps
it records, in test mode, the loss and accuracy on the
current batch (after the update, as the course logs them) and on the whole test set.
Data enter the program as arguments, never as closed-over constants, so one compiled
program serves every dataset of the same shapes.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.train.state import Batch, Task, TrainState
from jaxdl.train.step import EvalStepFn, TrainStepFn, make_eval_step, make_train_step


class Schedule(NamedTuple):
    """A course run's loop: `steps` train steps on batches of `batch_size`, an evaluation every `eval_every`."""

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
    step_loss: jax.Array  # (steps,) train-mode loss of each step, before its update
    batch_loss: jax.Array  # (evals,) test-mode loss on the step's batch, after the update
    batch_accuracy: jax.Array  # (evals,)
    test_loss: jax.Array  # (evals,) on the whole test set
    test_accuracy: jax.Array  # (evals,)
    train_loss: jax.Array | None = None  # (evals,) on the whole training set, with make_run(eval_train=True)
    train_accuracy: jax.Array | None = None  # (evals,) likewise (the course's 2_5-2_8 "train" curves)


RunFn = Callable[[TrainState, jax.Array, Data], tuple[TrainState, History]]


def make_run(task: Task, schedule: Schedule, on_eval: Callable[[jax.Array], None] | None = None,
             eval_train: bool = False) -> RunFn:
    """(state, indices, data) -> (final state, history); pure, so jit and vmap apply directly.

    `indices` [steps, batch_size] int32 are the training examples of each step (e.g.
    `jaxdl.data.sampling.course_indices`); the batch schedule is data, so runs that share it
    share their batches even when their states are batched, and a resumed run passes the rest.
    `on_eval(step)` is called on the host after each evaluation with the steps done so far in
    this call (e.g. to show progress); it is unbatched, so a vmapped run calls it once.
    With `eval_train`, each evaluation also covers the whole training set (history.train_loss,
    history.train_accuracy), as the course's 2_5-2_8 notebooks evaluate network.accuracy(x_train, d_train).
    """
    eval_step = make_eval_step(task)
    loop = make_loop(make_train_step(task), eval_step, eval_step, schedule, on_eval, eval_train)

    def run(state: TrainState, indices: jax.Array, data: Data) -> tuple[TrainState, History]:
        if indices.shape != (schedule.steps, schedule.batch_size):
            raise ValueError(f"indices have shape {indices.shape}; the schedule needs "
                             f"(steps, batch_size) = {(schedule.steps, schedule.batch_size)}")
        return loop(state, indices, data)

    return run


def make_loop(train_step: TrainStepFn, eval_batch: EvalStepFn, eval_set: EvalStepFn, schedule: Schedule,
              on_eval: Callable[[jax.Array], None] | None = None, eval_train: bool = False,
              to_carry: Callable[[TrainState], Any] = lambda state: state,
              from_carry: Callable[[Any], TrainState] = lambda carry: carry) -> RunFn:
    """The run's loop for any (possibly batched) steps: (state, indices [steps, ...], data) ->
    (final state, history with the step or evaluation axis first).

    Each step trains on `data.train_*[indices[t]]`; every `eval_every` steps `eval_batch`
    scores the last step's batch and `eval_set` the test set (and with `eval_train` the
    training set). Between steps the state is held as `to_carry(state)` (a layout of the
    caller's choice; `from_carry` inverts it).
    """
    schedule.check()
    intervals = schedule.steps // schedule.eval_every

    def loop(state: TrainState, indices: jax.Array, data: Data) -> tuple[TrainState, History]:
        def batch_at(idx):
            return Batch(data.train_images[idx], data.train_labels[idx])

        def one_step(carry, idx):
            state, metrics = train_step(from_carry(carry), batch_at(idx))
            return to_carry(state), metrics["loss"]

        def one_interval(carry, interval):
            interval_indices, number = interval
            carry, step_losses = jax.lax.scan(one_step, carry, interval_indices)
            state = from_carry(carry)
            evaluations = [eval_batch(state, batch_at(interval_indices[-1])),
                           eval_set(state, Batch(data.test_images, data.test_labels))]
            if eval_train:
                evaluations.append(eval_set(state, Batch(data.train_images, data.train_labels)))
            if on_eval is not None:
                jax.debug.callback(on_eval, (number + 1) * schedule.eval_every)
            return carry, (step_losses, *(m[key] for m in evaluations for key in ("loss", "accuracy")))

        per_interval = indices.reshape(intervals, schedule.eval_every, *indices.shape[1:])
        carry, (step_losses, *evals) = jax.lax.scan(one_interval, to_carry(state),
                                                    (per_interval, jnp.arange(intervals)))
        return from_carry(carry), History(step_losses.reshape(-1, *step_losses.shape[2:]), *evals)

    return loop


def diverged_at(step_loss: np.ndarray, final_params: Any = None) -> np.ndarray:
    """Per run, the 1-based step whose training loss first went NaN or infinite, 0 for a run that
    stayed finite; `step_loss` is [..., steps]. With `final_params` (stacked like the runs), a run
    whose loss stayed finite but whose final parameters are not counts as diverged at its last step."""
    bad = ~np.isfinite(np.asarray(step_loss))
    first = np.where(bad.any(axis=-1), bad.argmax(axis=-1) + 1, 0)
    if final_params is not None:
        batch = first.shape
        finite = np.ones(batch, bool)
        for leaf in jax.tree.leaves(final_params):
            leaf = np.asarray(leaf)
            finite &= np.isfinite(leaf.reshape(*batch, -1)).all(axis=-1)
        first = np.where((first == 0) & ~finite, step_loss.shape[-1], first)
    return first
