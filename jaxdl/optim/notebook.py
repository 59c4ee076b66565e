"""Family `notebook`: the hand-written update loops of the study text (course notebook 2_4, Section 2).

Defaults are the notebook's 2_4 settings (SGD 0.01, Momentum 0.3 with 0.9, AdaGrad 0.1,
RMSprop 0.01 with 0.99, Adam 0.01 with 0.9/0.999). Momentum, RMSprop and Adam are the book's
formulas with eps = 1e-7 (hard-coded in the loops); AdaGrad has the notebook's own start-up.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim import rules
from jaxdl.optim._dtypes import map_leaves
from jaxdl.optim.rules import Scalar, reference

NOTEBOOK_EPS = 1e-7  # notebook RMSprop/Adam loops: w -= lr * g / (np.sqrt(h) + 1e-7)
NOTEBOOK_ADAGRAD_H0 = 1e-4  # notebook AdaGrad loop, i == 0: h = np.full_like(W, 1e-4), no g^2 added on that step


class NotebookAdaGradState(NamedTuple):
    """Step count and the accumulator h of the notebook's AdaGrad (h starts at 1e-4)."""

    count: jax.Array
    h: optax.Updates


@reference("Notebook SGD loop (network.params[key] -= learning_rate * grad[key]).",
           "w -= learning_rate * g")
def sgd(learning_rate: Scalar = 0.01) -> optax.GradientTransformation:
    return rules.sgd(learning_rate)


@reference("Notebook Momentum loop.",
           "v = momentum * v - learning_rate * g;  w += v")
def momentum(learning_rate: Scalar = 0.3, momentum: Scalar = 0.9) -> optax.GradientTransformation:
    return rules.momentum(learning_rate, momentum)


@reference("Notebook AdaGrad loop: h = 1e-4 on step 1 (no g^2 added), h += g^2 after; no eps.",
           "t = 1: h = 1e-4;  t > 1: h += g^2;  w -= learning_rate * g / sqrt(h)")
def adagrad(learning_rate: Scalar = 0.1) -> optax.GradientTransformation:
    """So the first update is exactly 100 * learning_rate * g, and the second divides by
    sqrt(1e-4 + g_2^2) (g_1 never enters h).
    """

    def init_fn(params: optax.Params) -> NotebookAdaGradState:
        return NotebookAdaGradState(
            count=jnp.zeros([], jnp.int32), h=jax.tree.map(lambda p: jnp.full_like(p, NOTEBOOK_ADAGRAD_H0), params)
        )

    def update_fn(
        updates: optax.Updates, state: NotebookAdaGradState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, NotebookAdaGradState]:
        del params
        first = state.count == 0

        def rule(g, h):
            h = jnp.where(first, h, h + g * g)
            return -learning_rate * g / jnp.sqrt(h), h

        updates, h = map_leaves(rule, updates, state.h)
        return updates, NotebookAdaGradState(count=optax.safe_increment(state.count), h=h)

    return optax.GradientTransformation(init_fn, update_fn)


@reference("Notebook RMSprop loop (h *= decay_rate; h += (1 - decay_rate) * g^2).",
           "h = decay_rate * h + (1 - decay_rate) * g^2;  w -= learning_rate * g / (sqrt(h) + eps)")
def rmsprop(
    learning_rate: Scalar = 0.01, decay_rate: Scalar = 0.99, eps: Scalar = NOTEBOOK_EPS
) -> optax.GradientTransformation:
    return rules.rmsprop(learning_rate, decay_rate, eps)


@reference("Notebook Adam loop (learning_rate_t with i + 1 as t).",
           "m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g^2 - v);\n"
           "lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t);  w -= lr_t * m / (sqrt(v) + eps)")
def adam(
    learning_rate: Scalar = 0.01, beta1: Scalar = 0.9, beta2: Scalar = 0.999, eps: Scalar = NOTEBOOK_EPS
) -> optax.GradientTransformation:
    return rules.adam(learning_rate, beta1, beta2, eps)


OPTIMIZERS = {
    "sgd": sgd,
    "momentum": momentum,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}
ABSENT = {
    "nesterov": "the study text has no Nesterov loop (Section 2 shows Momentum, AdaGrad, RMSprop and Adam); "
    "use course:nesterov or chainer:nesterov",
}
