"""The pure train and evaluation steps: functions of (state, batch) that jit and vmap take as they are."""

from collections.abc import Callable

import jax
import optax

from jaxdl.train import losses
from jaxdl.train.state import LOSSES, Batch, Task, TrainState

StepFn = Callable[[TrainState, Batch], tuple[TrainState, jax.Array]]


def make_loss_fn(task: Task):
    """(params, state, batch) -> (training loss, updated model_state), in train mode.

    loss = data loss (dropout key fold_in(state.rng, state.step)) + task.penalty(params).
    """
    data_loss = LOSSES[task.loss]

    def loss_fn(params, state: TrainState, batch: Batch):
        logits, updates = task.model.apply(
            {"params": params, **state.model_state}, batch.images, train=True,
            rngs={"dropout": jax.random.fold_in(state.rng, state.step)}, mutable=["batch_stats"],
        )
        return data_loss(logits, batch.labels) + task.penalty(params), {**state.model_state, **updates}

    return loss_fn


def make_train_step(task: Task) -> StepFn:
    """(state, batch) -> (next state, training loss before the update): grads by autodiff of
    `make_loss_fn(task)`, params <- optax update."""
    loss_fn = make_loss_fn(task)
    tx = task.tx

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, jax.Array]:
        (loss, model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, state, batch)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, model_state, opt_state, state.rng, state.step + 1), loss

    return train_step


def make_eval_step(task: Task) -> Callable[[TrainState, Batch], tuple[jax.Array, jax.Array]]:
    """(state, batch) -> (loss, accuracy) in test mode (running statistics, no dropout).

    The loss includes the penalty term (`task.penalty`), as the course's network.loss does.
    """
    data_loss = LOSSES[task.loss]

    def eval_step(state: TrainState, batch: Batch) -> tuple[jax.Array, jax.Array]:
        logits = task.model.apply({"params": state.params, **state.model_state}, batch.images, train=False)
        return data_loss(logits, batch.labels) + task.penalty(state.params), losses.accuracy(logits, batch.labels)

    return eval_step
