"""The pure train and evaluation steps: functions of (state, batch) that jit and vmap take as they are.

    train_step(state, batch) -> (next state, {"loss", "accuracy", ...})
    eval_step(state, batch)  -> {"loss", "accuracy", ...}

The training loss and accuracy come from the forward pass that produced the gradients (train
mode, dropout key fold_in(state.rng, state.step)), as Chainer's main/loss and main/accuracy;
the evaluation runs in test mode (running statistics, no dropout). Both losses include the
task's penalty (the course's L1/L2 terms), as the course's network.loss does. A model with
several heads (GoogLeNet) defines its loss and main head (jaxdl.train.losses.heads_loss): the
metrics then also hold each head's loss under its name ("loss1" ... "loss3", Chainer's report).
`jit_train_step` and `jit_eval_step` are the same functions compiled for the epoch trainer.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jaxdl import parallel
from jaxdl.train import losses
from jaxdl.train.compile import compiler_options
from jaxdl.train.state import LOSSES, Batch, Task, TrainState

Metrics = dict[str, jax.Array]  # {"loss": scalar, "accuracy": scalar, and a multi-head model's head losses}
TrainStepFn = Callable[[TrainState, Batch], tuple[TrainState, Metrics]]
EvalStepFn = Callable[[TrainState, Batch], Metrics]
LossFn = Callable[[Any, TrainState, Batch], tuple[jax.Array, tuple[jax.Array, Any, Metrics]]]


def make_loss_fn(task: Task) -> LossFn:
    """(params, state, batch) -> (training loss, (main logits, updated model_state, head losses)), in train mode.

    loss = the model's data loss (heads_loss; dropout key fold_in(state.rng, state.step)) + task.penalty(params).
    """
    data_loss = LOSSES[task.loss]

    def loss_fn(params, state: TrainState, batch: Batch):
        outputs, updates = task.model.apply(
            {"params": params, **state.model_state}, batch.images, train=True,
            rngs={"dropout": jax.random.fold_in(state.rng, state.step)}, mutable=["batch_stats"],
        )
        loss, logits, head_losses = losses.heads_loss(task.model, outputs, batch.labels, data_loss)
        return loss + task.penalty(params), (logits, {**state.model_state, **updates}, head_losses)

    return loss_fn


def make_train_step(task: Task) -> TrainStepFn:
    """(state, batch) -> (next state, {"loss", "accuracy"(, head losses)} of the batch before the update):
    gradients by autodiff of `make_loss_fn(task)`, params <- the task's optax update."""
    loss_fn = make_loss_fn(task)
    optimizer = task.masked_optimizer

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        (loss, (logits, model_state, head_losses)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        next_state = TrainState(params, model_state, opt_state, state.rng, state.step + 1)
        return next_state, {"loss": loss, "accuracy": losses.accuracy(logits, batch.labels), **head_losses}

    return train_step


def make_eval_step(task: Task) -> EvalStepFn:
    """(state, batch) -> {"loss", "accuracy"(, head losses)} in test mode (running statistics, no dropout).

    With `batch.weights` w, each metric is sum_n w_n m_n / sum_n w_n over the examples' own
    metrics m_n (each the loss of a batch of one), so zero-weight padding rows change nothing.
    """
    data_loss = LOSSES[task.loss]

    def eval_step(state: TrainState, batch: Batch) -> Metrics:
        outputs = task.model.apply({"params": state.params, **state.model_state}, batch.images, train=False)
        if batch.weights is None:
            loss_of, accuracy_of = data_loss, losses.accuracy
        else:
            total = jnp.sum(batch.weights)

            def loss_of(logits, labels):
                per_example = jax.vmap(lambda row, label: data_loss(row[None], label[None]))(logits, labels)
                return jnp.sum(batch.weights * per_example) / total

            def accuracy_of(logits, labels):
                return jnp.sum(batch.weights * (jnp.argmax(logits, axis=-1) == labels)) / total

        loss, logits, head_losses = losses.heads_loss(task.model, outputs, batch.labels, loss_of)
        return {"loss": loss + task.penalty(state.params), "accuracy": accuracy_of(logits, batch.labels),
                **head_losses}

    return eval_step


def _step_options(mesh: Mesh | None) -> dict[str, Any]:
    """compiler_options("step") for the mesh's platform (the default backend without a mesh)."""
    return compiler_options("step", None if mesh is None else mesh.devices.flat[0].platform)


def jit_train_step(task: Task, mesh: Mesh | None = None) -> TrainStepFn:
    """`make_train_step(task)` jitted with compiler_options("step"), the incoming state donated
    (its buffers are reused).

    With a `mesh` (jaxdl.parallel.data_mesh), data parallel: the state replicated, the batch split
    over "data"; the batch-mean loss makes XLA sum the devices' gradients, so the step equals the
    one-device step on the same global batch up to float32 reassociation.
    """
    options = _step_options(mesh)
    if mesh is None:
        return jax.jit(make_train_step(task), donate_argnums=0, compiler_options=options)
    state, batch = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    return jax.jit(make_train_step(task), in_shardings=(state, batch), out_shardings=(state, state),
                   donate_argnums=0, compiler_options=options)


def jit_eval_step(task: Task, mesh: Mesh | None = None) -> EvalStepFn:
    """`make_eval_step(task)` jitted with compiler_options("step"); with a `mesh`, the batch split
    over "data" and the metrics replicated."""
    options = _step_options(mesh)
    if mesh is None:
        return jax.jit(make_eval_step(task), compiler_options=options)
    state, batch = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    return jax.jit(make_eval_step(task), in_shardings=(state, batch), out_shardings=state,
                   compiler_options=options)
