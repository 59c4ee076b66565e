"""Family `chainer`: chainer.optimizers of Chainer 7.8.1 (update_core_cpu), with Chainer's defaults.

Chainer's argument names map as lr / alpha (Adam's step size) -> learning_rate,
alpha (RMSprop's decay) -> decay_rate; the rest keep their names.
"""

import optax

from jaxdl.optim import rules
from jaxdl.optim.rules import Scalar, reference

CHAINER_EPS = 1e-8  # AdaGrad, RMSprop and Adam: _default_hyperparam.eps = 1e-8


@reference("Chainer SGD(lr=0.01).",
           "w -= learning_rate * g")
def sgd(learning_rate: Scalar = 0.01) -> optax.GradientTransformation:
    return rules.sgd(learning_rate)


@reference("Chainer MomentumSGD(lr=0.01, momentum=0.9).",
           "v = momentum * v - learning_rate * g;  w += v")
def momentum(learning_rate: Scalar = 0.01, momentum: Scalar = 0.9) -> optax.GradientTransformation:
    return rules.momentum(learning_rate, momentum)


@reference("Chainer NesterovAG(lr=0.01, momentum=0.9).",
           "v = momentum * v - learning_rate * g;  w += momentum^2 * v - (1 + momentum) * learning_rate * g")
def nesterov(learning_rate: Scalar = 0.01, momentum: Scalar = 0.9) -> optax.GradientTransformation:
    return rules.nesterov_ag(learning_rate, momentum)


@reference("Chainer AdaGrad(lr=0.001, eps=1e-8), h starting at 0.",
           "h += g^2;  w -= learning_rate * g / (sqrt(h) + eps)")
def adagrad(learning_rate: Scalar = 0.001, eps: Scalar = CHAINER_EPS) -> optax.GradientTransformation:
    return rules.adagrad(learning_rate, eps)


@reference("Chainer RMSprop(lr=0.01, alpha=0.99, eps=1e-8, eps_inside_sqrt=False).",
           "h = decay_rate * h + (1 - decay_rate) * g^2;  w -= learning_rate * g / (sqrt(h) + eps)")
def rmsprop(
    learning_rate: Scalar = 0.01, decay_rate: Scalar = 0.99, eps: Scalar = CHAINER_EPS
) -> optax.GradientTransformation:
    return rules.rmsprop(learning_rate, decay_rate, eps)


@reference("Chainer Adam(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, eta=1, weight_decay_rate=0, amsgrad=False).",
           "m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g^2 - v);\n"
           "lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t);  w -= lr_t * m / (sqrt(v) + eps)")
def adam(
    learning_rate: Scalar = 0.001, beta1: Scalar = 0.9, beta2: Scalar = 0.999, eps: Scalar = CHAINER_EPS
) -> optax.GradientTransformation:
    """Chainer calls lr_t `alpha_t` (fix1 = 1 - beta1^t, fix2 = 1 - beta2^t, alpha_t = alpha *
    sqrt(fix2) / fix1) and computes the step as (alpha_t / (sqrt(v) + eps)) * m.
    """
    return rules.adam(learning_rate, beta1, beta2, eps)


OPTIMIZERS = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}
ABSENT: dict[str, str] = {}
