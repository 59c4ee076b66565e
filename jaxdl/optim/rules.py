"""The update rules of the book (common/optimizer.py) and Chainer 7.8.1, as optax transforms.

Notation: w parameter, g gradient, t step number (1 on the first update). Each transform
returns the full update (learning rate and sign included), so `optax.apply_updates(params,
updates)` gives the new parameters. Hyperparameters may be Python floats or traced jax
scalars (jit, vmap, optax.inject_hyperparams). No defaults here: the families `course`,
`chainer` and `notebook` bind them.
"""

import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._dtypes import map_leaves

Scalar = float | jax.Array


class VelocityState(NamedTuple):
    """Velocity v of the momentum and Nesterov rules (starts at 0)."""

    velocity: optax.Updates


class SquaresState(NamedTuple):
    """Accumulated squared gradients h: a sum (AdaGrad) or a moving average (RMSprop); starts at 0."""

    h: optax.Updates


class AdamState(NamedTuple):
    """Adam's step count t and moments m, v (start at 0)."""

    count: jax.Array
    m: optax.Updates
    v: optax.Updates


def _zeros_like(params: optax.Params) -> optax.Updates:
    return jax.tree.map(jnp.zeros_like, params)


def sgd(learning_rate: Scalar) -> optax.GradientTransformation:
    """Plain gradient descent.

    w -= learning_rate * g
    """

    def init_fn(params: optax.Params) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update_fn(
        updates: optax.Updates, state: optax.EmptyState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, optax.EmptyState]:
        del params
        (updates,) = map_leaves(lambda g: (-learning_rate * g,), updates)
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def momentum(learning_rate: Scalar, momentum: Scalar) -> optax.GradientTransformation:
    """Momentum SGD with the learning rate inside the velocity.

    v = momentum * v - learning_rate * g;  w += v
    """

    def init_fn(params: optax.Params) -> VelocityState:
        return VelocityState(velocity=_zeros_like(params))

    def update_fn(
        updates: optax.Updates, state: VelocityState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, VelocityState]:
        del params

        def rule(g, v):
            v_new = momentum * v - learning_rate * g
            # The same value written -(lr*g - mu*v) (equal up to fused-multiply-add rounding): an update
            # distinct from the state lets XLA on CPU fuse it into params + update (4-6% of a step).
            return -(learning_rate * g - momentum * v), v_new

        updates, velocity = map_leaves(rule, updates, state.velocity)
        return updates, VelocityState(velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def nesterov_ag(learning_rate: Scalar, momentum: Scalar) -> optax.GradientTransformation:
    """Nesterov accelerated gradient as the book and Chainer NesterovAG code it: w moves with the NEW v.

    v = momentum * v - learning_rate * g;  w += momentum^2 * v - (1 + momentum) * learning_rate * g

    Both cite arXiv:1212.0901, whose formula uses the velocity from before this step
    (w += momentum^2 * v_old - (1 + momentum) * learning_rate * g); that form is optax's nesterov.
    """

    def init_fn(params: optax.Params) -> VelocityState:
        return VelocityState(velocity=_zeros_like(params))

    def update_fn(
        updates: optax.Updates, state: VelocityState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, VelocityState]:
        del params

        def rule(g, v):
            v = momentum * v - learning_rate * g
            return momentum * momentum * v - (1 + momentum) * learning_rate * g, v

        updates, velocity = map_leaves(rule, updates, state.velocity)
        return updates, VelocityState(velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def adagrad(learning_rate: Scalar, eps: Scalar) -> optax.GradientTransformation:
    """AdaGrad with eps outside the square root.

    h += g^2;  w -= learning_rate * g / (sqrt(h) + eps)
    """

    def init_fn(params: optax.Params) -> SquaresState:
        return SquaresState(h=_zeros_like(params))

    def update_fn(
        updates: optax.Updates, state: SquaresState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, SquaresState]:
        del params

        def rule(g, h):
            h = h + g * g
            return -learning_rate * g / (jnp.sqrt(h) + eps), h

        updates, h = map_leaves(rule, updates, state.h)
        return updates, SquaresState(h=h)

    return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(learning_rate: Scalar, decay_rate: Scalar, eps: Scalar) -> optax.GradientTransformation:
    """RMSprop with eps outside the square root.

    h = decay_rate * h + (1 - decay_rate) * g^2;  w -= learning_rate * g / (sqrt(h) + eps)
    """

    def init_fn(params: optax.Params) -> SquaresState:
        return SquaresState(h=_zeros_like(params))

    def update_fn(
        updates: optax.Updates, state: SquaresState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, SquaresState]:
        del params

        def rule(g, h):
            h = decay_rate * h + (1 - decay_rate) * g * g
            return -learning_rate * g / (jnp.sqrt(h) + eps), h

        updates, h = map_leaves(rule, updates, state.h)
        return updates, SquaresState(h=h)

    return optax.GradientTransformation(init_fn, update_fn)


def _one_minus_power(beta: Scalar, t: jax.Array) -> jax.Array:
    """1 - beta^t, evaluated as -expm1(t * log1p(-(1 - beta))) so float32 keeps its digits for beta near 1."""
    return -jnp.expm1(t * jnp.log1p(-(1 - beta)))


def adam(learning_rate: Scalar, beta1: Scalar, beta2: Scalar, eps: Scalar) -> optax.GradientTransformation:
    """Adam with the bias correction folded into the step size, eps outside the square root.

    m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g^2 - v);
    lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t);  w -= lr_t * m / (sqrt(v) + eps)
    """

    def init_fn(params: optax.Params) -> AdamState:
        return AdamState(count=jnp.zeros([], jnp.int32), m=_zeros_like(params), v=_zeros_like(params))

    def update_fn(
        updates: optax.Updates, state: AdamState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, AdamState]:
        del params
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float32)
        lr_t = learning_rate * jnp.sqrt(_one_minus_power(beta2, t)) / _one_minus_power(beta1, t)

        def rule(g, m, v):
            m = m + (1 - beta1) * (g - m)
            v = v + (1 - beta2) * (g * g - v)
            return -lr_t * m / (jnp.sqrt(v) + eps), m, v

        updates, m, v = map_leaves(rule, updates, state.m, state.v)
        return updates, AdamState(count=count, m=m, v=v)

    return optax.GradientTransformation(init_fn, update_fn)


def reference(summary: str, formula: str):
    """Decorator of an optimizer factory: the reference it reproduces (`summary`, e.g. "Book
    SGD(lr=0.01).") and its update `formula`, kept as data (`factory.summary`, `factory.formula`,
    which `jaxdl.optim.describe` prints) and put at the head of the factory's docstring."""

    def attach(factory):
        factory.summary, factory.formula = summary, formula
        notes = f"\n\n{inspect.cleandoc(factory.__doc__)}" if factory.__doc__ else ""
        factory.__doc__ = f"{summary}\n\n{formula}{notes}"
        return factory

    return attach
