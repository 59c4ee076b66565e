"""Family `course`: the book's common/optimizer.py ("Deep Learning from Scratch"), as the course uses it.

The book hard-codes eps = 1e-7 in AdaGrad, RMSprop and Adam; here it is the default of `eps`.
"""

import optax

from jaxdl.optim import rules
from jaxdl.optim.rules import Scalar, reference

BOOK_EPS = 1e-7  # the book: w -= lr * g / (sqrt(h) + 1e-7), likewise in RMSprop and Adam


@reference("Book SGD(lr=0.01).",
           "w -= learning_rate * g")
def sgd(learning_rate: Scalar = 0.01) -> optax.GradientTransformation:
    return rules.sgd(learning_rate)


@reference("Book Momentum(lr=0.01, momentum=0.9).",
           "v = momentum * v - learning_rate * g;  w += v")
def momentum(learning_rate: Scalar = 0.01, momentum: Scalar = 0.9) -> optax.GradientTransformation:
    return rules.momentum(learning_rate, momentum)


@reference("Book Nesterov(lr=0.01, momentum=0.9): the same statements, in the same order, as Chainer NesterovAG.",
           "v = momentum * v - learning_rate * g;  w += momentum^2 * v - (1 + momentum) * learning_rate * g")
def nesterov(learning_rate: Scalar = 0.01, momentum: Scalar = 0.9) -> optax.GradientTransformation:
    """The book's code is `v *= mu; v -= lr*g; w += mu*mu*v; w -= (1+mu)*lr*g`, i.e. w moves with
    the NEW v, exactly as Chainer's NesterovAGRule.update_core_cpu, so course:nesterov and
    chainer:nesterov give the same trajectory. Some course notes print the statements in another
    order (w updated from the previous v, then v updated); the book's repository does not. That
    other order is optax:nesterov's update (for a constant learning rate).
    """
    return rules.nesterov_ag(learning_rate, momentum)


@reference("Book AdaGrad(lr=0.01), h starting at 0.",
           "h += g^2;  w -= learning_rate * g / (sqrt(h) + eps)")
def adagrad(learning_rate: Scalar = 0.01, eps: Scalar = BOOK_EPS) -> optax.GradientTransformation:
    return rules.adagrad(learning_rate, eps)


@reference("Book RMSprop(lr=0.01, decay_rate=0.99).",
           "h = decay_rate * h + (1 - decay_rate) * g^2;  w -= learning_rate * g / (sqrt(h) + eps)")
def rmsprop(
    learning_rate: Scalar = 0.01, decay_rate: Scalar = 0.99, eps: Scalar = BOOK_EPS
) -> optax.GradientTransformation:
    return rules.rmsprop(learning_rate, decay_rate, eps)


@reference("Book Adam(lr=0.001, beta1=0.9, beta2=0.999): bias correction folded into lr_t.",
           "m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g^2 - v);\n"
           "lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t);  w -= lr_t * m / (sqrt(v) + eps)")
def adam(
    learning_rate: Scalar = 0.001, beta1: Scalar = 0.9, beta2: Scalar = 0.999, eps: Scalar = BOOK_EPS
) -> optax.GradientTransformation:
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
