"""Weight penalties, the one home of regularization: as loss terms and as gradient transforms.

Loss terms (what `jaxdl.train.Task(weight_decay=, l1=)` adds to the loss, so the logged loss
carries them as the course's network.loss does; autodiff gives their gradients):

    course_l2_term(params) = 0.5 * sum W^2,   course_l1_term(params) = sum |W|

Gradient transforms (chain them before the optimizer; the loss is unchanged, as Chainer's
optimizer hooks):

    tx = optax.chain(coupled_l2(0.1), jaxdl.optim.create("course:sgd"))

Each transform adds rate * term(w) to the gradient of the leaves its mask selects and passes the other
leaves through unchanged (the mask is a pytree of bools, or a callable from the tree to one,
as in optax.masked). The course's penalties default to the weights only
(`weights_only_mask`), Chainer's hooks to every parameter (mask None).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import _validate
from jaxdl.optim.rules import Scalar

Mask = Any | Callable[[optax.Params], Any] | None

WEIGHT_LEAF_NAME = "kernel"  # Flax names the W of Dense/Conv "kernel"; biases, BN gamma/beta are other names


def weights_only_mask(params: optax.Params) -> Any:
    """True for the leaves named "kernel" in a Flax params tree (the course's W), False elsewhere."""

    def is_weight(path: tuple[Any, ...], leaf: Any) -> bool:
        del leaf
        last = path[-1] if path else None
        name = getattr(last, "key", getattr(last, "name", None))
        return name == WEIGHT_LEAF_NAME

    return jax.tree_util.tree_map_with_path(is_weight, params)


def masked_leaves(params: optax.Params, mask: Mask = weights_only_mask) -> list[jax.Array]:
    """The leaves of `params` that `mask` selects (every leaf when mask is None), in tree order."""
    if mask is None:
        return jax.tree.leaves(params)
    selected = mask(params) if callable(mask) else mask
    return [leaf for leaf, keep in zip(jax.tree.leaves(params), jax.tree.leaves(selected), strict=True) if keep]


def course_l2_term(params: optax.Params, mask: Mask = weights_only_mask) -> jax.Array:
    """The course's weight-decay term 0.5 * sum(W^2) over every affine/conv kernel (MultiLayerNet.loss)."""
    return 0.5 * sum(jnp.sum(jnp.square(w)) for w in masked_leaves(params, mask))


def course_l1_term(params: optax.Params, mask: Mask = weights_only_mask) -> jax.Array:
    """The course's L1 term sum|W| over every kernel, with gradient exactly sign(W) (0 at W = 0).

    Course 2_5: grad['W'] = dW + lambda * np.sign(W); loss += lambda * np.sum(np.abs(W)).
    (jnp.abs would give gradient +1 at 0; W * stop_gradient(sign(W)) has the value |W| and np.sign's gradient.)
    """
    return sum(jnp.sum(w * jax.lax.stop_gradient(jnp.sign(w))) for w in masked_leaves(params, mask))


def _penalty(rate: Scalar, term: Callable[[jax.Array], jax.Array], mask: Mask, name: str
             ) -> optax.GradientTransformation:
    """g += rate * term(w) on the masked leaves (every leaf when mask is None); needs params.
    `rate` must be a real scalar >= 0 (checked when concrete)."""
    _validate.real(name, "rate", rate, low=0.0)

    def init_fn(params: optax.Params) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update_fn(
        updates: optax.Updates, state: optax.EmptyState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, optax.EmptyState]:
        if params is None:
            raise ValueError("a gradient penalty needs params: call update(grads, state, params)")
        updates = jax.tree.map(lambda g, w: (g + rate * term(w)).astype(g.dtype), updates, params)
        return updates, state

    penalty = optax.GradientTransformation(init_fn, update_fn)
    return penalty if mask is None else optax.masked(penalty, mask)


def coupled_l2(rate: Scalar, mask: Mask = weights_only_mask) -> optax.GradientTransformation:
    """Course L2 (MultiLayerNet weight_decay_lambda): g += rate * W, weights only; loss gains 0.5 * rate * sum W^2."""
    return _penalty(rate, lambda w: w, mask, "coupled_l2")


def course_l1(rate: Scalar, mask: Mask = weights_only_mask) -> optax.GradientTransformation:
    """Course L1 (2_5 notebook): g += rate * sign(W), weights only; loss gains rate * sum |W|."""
    return _penalty(rate, jnp.sign, mask, "course_l1")


def chainer_weight_decay(rate: Scalar, mask: Mask = None) -> optax.GradientTransformation:
    """Chainer optimizer_hooks.WeightDecay(rate): g += rate * w on every parameter."""
    return _penalty(rate, lambda w: w, mask, "chainer_weight_decay")


def chainer_lasso(rate: Scalar, mask: Mask = None) -> optax.GradientTransformation:
    """Chainer optimizer_hooks.Lasso(rate): g += rate * sign(w) on every parameter."""
    return _penalty(rate, jnp.sign, mask, "chainer_lasso")
