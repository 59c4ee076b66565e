"""Jit-compiled supervised steps reporting what Chainer's StandardUpdater and Evaluator report.

Both work for any Task (a Flax classifier whose __call__ takes `train`, an optax transform,
a named loss) and the shared TrainState/Batch of jaxdl.train.state.
"""

from collections.abc import Callable

import jax
import optax

from jaxdl.train import losses
from jaxdl.train.state import LOSSES, Batch, Task, TrainState
from jaxdl.train.step import make_eval_step

Metrics = dict[str, jax.Array]


def make_train_step(task: Task) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """A jitted (state, batch) -> (next state, {"loss", "accuracy"}); the state is donated.

    loss and accuracy come from the forward pass that produced the gradients (train mode,
    dropout key fold_in(state.rng, state.step)), as Chainer's main/loss and main/accuracy;
    the loss includes task.penalty (the course's L1/L2 terms, zero for Chainer's example).
    """
    data_loss = LOSSES[task.loss]
    tx = task.tx

    def objective(params, state: TrainState, batch: Batch):
        logits, updates = task.model.apply(
            {"params": params, **state.model_state}, batch.images, train=True,
            rngs={"dropout": jax.random.fold_in(state.rng, state.step)}, mutable=["batch_stats"])
        return data_loss(logits, batch.labels) + task.penalty(params), (logits, {**state.model_state, **updates})

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        (loss, (logits, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, state, batch)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        next_state = TrainState(params, model_state, opt_state, state.rng, state.step + 1)
        return next_state, {"loss": loss, "accuracy": losses.accuracy(logits, batch.labels)}

    return jax.jit(train_step, donate_argnums=0)


def make_eval_fn(task: Task) -> Callable[[TrainState, Batch], Metrics]:
    """A jitted (state, batch) -> {"loss", "accuracy"} in test mode (no dropout, running stats)."""
    eval_step = make_eval_step(task)

    def evaluate(state: TrainState, batch: Batch) -> Metrics:
        loss, accuracy = eval_step(state, batch)
        return {"loss": loss, "accuracy": accuracy}

    return jax.jit(evaluate)
