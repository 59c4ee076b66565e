"""What is trained and its state: a Task (static) and a TrainState (a pytree of arrays)."""

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdl.train import losses

LOSSES = {"course": losses.course_softmax_cross_entropy, "chainer": losses.softmax_cross_entropy}
TRAINABLE = ("all", "affine")


class TrainState(NamedTuple):
    params: Any
    model_state: Any  # the model's other variable collections: batch_stats, switches
    opt_state: optax.OptState
    rng: jax.Array  # dropout key; step t uses fold_in(rng, t)
    step: jax.Array  # int32 scalar


class Batch(NamedTuple):
    images: jax.Array
    labels: jax.Array


def freeze_all_but_affine(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """The seed's loops: `for key in ('W1', ..., 'b3'): params[key] -= ...`; gamma/beta never move."""

    def labels(params):
        return {name: jax.tree.map(lambda _: "train" if name.startswith("affine") else "frozen", sub)
                for name, sub in params.items()}

    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


@dataclasses.dataclass(frozen=True)
class Task:
    """A Flax classifier trained with an optax transform on a named loss.

    loss: "course" (the book's SoftmaxWithLoss) or "chainer" (F.softmax_cross_entropy).
    weight_decay: the course's L2 on weights only, loss + 0.5 * lambda * sum(W^2) over kernels.
    trainable: "all" parameters, or "affine" (W and b only, as the seed's loops update).
    """

    model: nn.Module
    optimizer: optax.GradientTransformation
    loss: str = "course"
    weight_decay: float = 0.0
    trainable: str = "all"

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}")
        if self.trainable not in TRAINABLE:
            raise ValueError(f"unknown trainable {self.trainable!r}; choose one of {TRAINABLE}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")

    @property
    def tx(self) -> optax.GradientTransformation:
        return freeze_all_but_affine(self.optimizer) if self.trainable == "affine" else self.optimizer

    def init(self, key: jax.Array, sample_images: jax.Array) -> TrainState:
        """Fresh parameters (from `key`), running statistics and optimizer state."""
        param_key, dropout_key = jax.random.split(key)
        variables = self.model.init({"params": param_key}, sample_images, train=False)
        return self.state_from(variables, dropout_key)

    def state_from(self, variables: dict, rng: jax.Array) -> TrainState:
        """A step-0 state around given variables ({'params': ..., 'batch_stats': ..., ...})."""
        params = variables["params"]
        model_state = {name: tree for name, tree in variables.items() if name != "params"}
        return TrainState(params, model_state, self.tx.init(params), rng, jnp.zeros((), jnp.int32))


def l2_penalty(params) -> jax.Array:
    """The course's weight-decay term 0.5 * sum(W^2) over every affine/conv kernel."""
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
               if getattr(path[-1], "key", None) == "kernel"]
    return 0.5 * sum(jnp.sum(jnp.square(w)) for w in kernels)
