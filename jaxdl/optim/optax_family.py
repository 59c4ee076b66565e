"""Family `optax`: optax's own built-in optimizers, with jaxdl's hyperparameter names.

optax has no default learning rate (nor a default momentum for sgd), so these must be given.
Names map as decay_rate -> decay, beta1 -> b1, beta2 -> b2; every other optax argument keeps
optax's default (adagrad initial_accumulator_value=0.1, rmsprop eps_in_sqrt=True, adam eps_root=0).
"""

import optax

from jaxdl.optim.rules import Scalar, reference


@reference("optax.sgd(learning_rate).",
           "w -= learning_rate * g")
def sgd(learning_rate: Scalar) -> optax.GradientTransformation:
    return optax.sgd(learning_rate)


@reference("optax.sgd(learning_rate, momentum): the trace holds raw gradients, the learning rate is applied after.",
           "v = g + momentum * v;  w -= learning_rate * v")
def momentum(learning_rate: Scalar, momentum: Scalar) -> optax.GradientTransformation:
    return optax.sgd(learning_rate, momentum=momentum)


@reference("optax.sgd(learning_rate, momentum, nesterov=True).",
           "v = g + momentum * v;  w -= learning_rate * (g + momentum * v)")
def nesterov(learning_rate: Scalar, momentum: Scalar) -> optax.GradientTransformation:
    return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


@reference("optax.adagrad(learning_rate, eps=1e-7): accumulator starts at 0.1, eps inside the square root.",
           "h starts at 0.1;  h += g^2;  w -= learning_rate * g / sqrt(h + eps)")
def adagrad(learning_rate: Scalar, eps: Scalar = 1e-7) -> optax.GradientTransformation:
    return optax.adagrad(learning_rate, eps=eps)


@reference("optax.rmsprop(learning_rate, decay=0.9, eps=1e-8): eps inside the square root.",
           "h = decay_rate * h + (1 - decay_rate) * g^2;  w -= learning_rate * g / sqrt(h + eps)")
def rmsprop(learning_rate: Scalar, decay_rate: Scalar = 0.9, eps: Scalar = 1e-8) -> optax.GradientTransformation:
    return optax.rmsprop(learning_rate, decay=decay_rate, eps=eps)


@reference("optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8): m and v bias-corrected separately.",
           "m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;\n"
           "w -= learning_rate * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)")
def adam(
    learning_rate: Scalar, beta1: Scalar = 0.9, beta2: Scalar = 0.999, eps: Scalar = 1e-8
) -> optax.GradientTransformation:
    return optax.adam(learning_rate, b1=beta1, b2=beta2, eps=eps)


OPTIMIZERS = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}
ABSENT: dict[str, str] = {}
