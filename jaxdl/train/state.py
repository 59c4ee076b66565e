"""What is trained and its state: a Task (static) and a TrainState (a pytree of arrays)."""

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdl.optim.regularizers import course_l1_term, course_l2_term
from jaxdl.train import losses

LOSSES = {"course": losses.course_softmax_cross_entropy, "chainer": losses.softmax_cross_entropy}
TRAINABLE = ("all", "affine", "hidden_affine")


class TrainState(NamedTuple):
    params: Any
    model_state: Any  # the model's other variable collections: batch_stats, switches
    opt_state: optax.OptState
    rng: jax.Array  # dropout key; step t uses fold_in(rng, t)
    step: jax.Array  # int32 scalar


class Batch(NamedTuple):
    """Images and labels; `weights` (1 for a real example, 0 for padding) makes the evaluation step's
    metrics means over the real examples only (a batch padded to split evenly over devices)."""

    images: jax.Array
    labels: jax.Array
    weights: jax.Array | None = None


def trained_layers(params: dict, trainable: str) -> set[str]:
    """The top-level layers of `params` that `trainable` updates.

    "all": every layer. "affine": the notebook's loops, `for key in ('W1', ..., 'b3')`, so
    gamma/beta never move. "hidden_affine": the course's 2_5 L1/L2 cells,
    `for idx in range(1, hidden_layer_num + 1)`, so the output Affine never moves either.
    """
    if trainable == "all":
        return set(params)
    affine = sorted((name for name in params if name.startswith("affine")), key=lambda n: int(n[len("affine"):]))
    return set(affine[:-1] if trainable == "hidden_affine" else affine)


def freeze_untrained(tx: optax.GradientTransformation, trainable: str) -> optax.GradientTransformation:
    """`tx` on the layers `trained_layers(params, trainable)` names; zero updates elsewhere."""

    def labels(params):
        trained = trained_layers(params, trainable)
        return {name: jax.tree.map(lambda _: "train" if name in trained else "frozen", sub)
                for name, sub in params.items()}

    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


@dataclasses.dataclass(frozen=True)
class Task:
    """A Flax classifier trained with an optax transform on a named loss.

    loss: "course" (the book's SoftmaxWithLoss) or "chainer" (F.softmax_cross_entropy).
    weight_decay: the course's L2 on weights only, loss + 0.5 * lambda * sum(W^2) over kernels.
    l1: the course's L1 on weights only, loss + lambda * sum|W| over kernels (gradient lambda * sign(W)).
    trainable: "all" parameters, "affine" (W and b only, as the notebook's loops update) or
        "hidden_affine" (W and b of all but the output Affine, as the course's L1/L2 cells).
    """

    model: nn.Module
    optimizer: optax.GradientTransformation
    loss: str = "course"
    weight_decay: float = 0.0
    trainable: str = "all"
    l1: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}")
        if self.trainable not in TRAINABLE:
            raise ValueError(f"unknown trainable {self.trainable!r}; choose one of {TRAINABLE}")
        if self.weight_decay < 0 or self.l1 < 0:
            raise ValueError(f"weight_decay and l1 must be >= 0, got {self.weight_decay} and {self.l1}")

    @property
    def masked_optimizer(self) -> optax.GradientTransformation:
        """`optimizer` on the layers `trainable` names, zero updates elsewhere (the one the steps apply)."""
        return self.optimizer if self.trainable == "all" else freeze_untrained(self.optimizer, self.trainable)

    def penalty(self, params) -> jax.Array | float:
        """The regularisation term of the loss: weight_decay * course_l2_term + l1 * course_l1_term
        (jaxdl.optim.regularizers; weights only, the leaves `weights_only_mask` selects)."""
        total = 0.0
        if self.weight_decay:
            total = total + self.weight_decay * course_l2_term(params)
        if self.l1:
            total = total + self.l1 * course_l1_term(params)
        return total

    def init(self, key: jax.Array, sample_images: jax.Array) -> TrainState:
        """Fresh parameters (from `key`), running statistics and optimizer state."""
        param_key, dropout_key = jax.random.split(key)
        variables = self.model.init({"params": param_key}, sample_images, train=False)
        return self.state_from(variables, dropout_key)

    def state_from(self, variables: dict, rng: jax.Array) -> TrainState:
        """A step-0 state around given variables ({'params': ..., 'batch_stats': ..., ...})."""
        params = variables["params"]
        model_state = {name: tree for name, tree in variables.items() if name != "params"}
        return TrainState(params, model_state, self.masked_optimizer.init(params), rng, jnp.zeros((), jnp.int32))
