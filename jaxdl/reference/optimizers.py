"""Every optimizer formula of the references in float64 NumPy: the tests' oracles, the benchmarks' baselines.

Plain loops over a dict of arrays in the book's style: `opt.update(params, grads)` changes
`params` in place (the layers of `course_numpy` / `course_convnet` networks hold the same
arrays). `make("family:name", **hparams)` builds one over DEFAULTS; the families and their
formulas are those of jaxdl/optim/FORMULAS.md, written here from their sources, not from jaxdl:

- course: the book's common/optimizer.py (eps = 1e-7, hard-coded there, exposed here);
- chainer: Chainer 7.8.1's SGD, MomentumSGD, NesterovAG, AdaGrad, RMSprop, Adam (eps 1e-8);
- notebook: the inline loops of course notebook 2_4 (its AdaGrad is `NotebookAdaGrad`);
- optax: optax's documented update rules (sgd with a trace, adagrad, rmsprop, adam).

Also the course's parameter-subset updates (`AffineSGD`, the 2_5 notebook's `CourseCell`) and
`penalize`, the gradient penalties chained before an optimizer.
"""

from collections.abc import Callable, Iterable

import numpy as np

Params = dict[str, np.ndarray]

# The references' defaults, as their sources state them (None: the reference has none).
DEFAULTS: dict[str, dict[str, float | None]] = {
    "course:sgd": {"learning_rate": 0.01},
    "course:momentum": {"learning_rate": 0.01, "momentum": 0.9},
    "course:nesterov": {"learning_rate": 0.01, "momentum": 0.9},
    "course:adagrad": {"learning_rate": 0.01, "eps": 1e-7},
    "course:rmsprop": {"learning_rate": 0.01, "decay_rate": 0.99, "eps": 1e-7},
    "course:adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "chainer:sgd": {"learning_rate": 0.01},
    "chainer:momentum": {"learning_rate": 0.01, "momentum": 0.9},
    "chainer:nesterov": {"learning_rate": 0.01, "momentum": 0.9},
    "chainer:adagrad": {"learning_rate": 0.001, "eps": 1e-8},
    "chainer:rmsprop": {"learning_rate": 0.01, "decay_rate": 0.99, "eps": 1e-8},
    "chainer:adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    # notebook: the course's 2_4 notebook settings
    "notebook:sgd": {"learning_rate": 0.01},
    "notebook:momentum": {"learning_rate": 0.3, "momentum": 0.9},
    "notebook:adagrad": {"learning_rate": 0.1},
    "notebook:rmsprop": {"learning_rate": 0.01, "decay_rate": 0.99, "eps": 1e-7},
    "notebook:adam": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "optax:sgd": {"learning_rate": None},
    "optax:momentum": {"learning_rate": None, "momentum": None},
    "optax:nesterov": {"learning_rate": None, "momentum": None},
    "optax:adagrad": {"learning_rate": None, "eps": 1e-7},
    "optax:rmsprop": {"learning_rate": None, "decay_rate": 0.9, "eps": 1e-8},
    "optax:adam": {"learning_rate": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def _zeros(params: Params) -> Params:
    return {key: np.zeros_like(val) for key, val in params.items()}


class SGD:
    """w -= lr * g (book SGD, Chainer SGD, optax.sgd)."""

    def __init__(self, learning_rate: float = 0.01):
        self.lr = learning_rate

    def update(self, params: Params, grads: Params) -> None:
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """v = mu * v - lr * g; w += v (book Momentum, Chainer MomentumSGD)."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9):
        self.lr, self.mu, self.v = learning_rate, momentum, None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros(params)
        for key in params:
            self.v[key] = self.mu * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """Book Nesterov / Chainer NesterovAG: v *= mu; v -= lr * g; w += mu * mu * v; w -= (1 + mu) * lr * g."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9):
        self.lr, self.mu, self.v = learning_rate, momentum, None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros(params)
        for key in params:
            self.v[key] *= self.mu
            self.v[key] -= self.lr * grads[key]
            params[key] += self.mu * self.mu * self.v[key]
            params[key] -= (1 + self.mu) * self.lr * grads[key]


class AdaGrad:
    """h += g * g; w -= lr * g / (sqrt(h) + eps) (book AdaGrad, Chainer AdaGrad)."""

    def __init__(self, learning_rate: float = 0.01, eps: float = 1e-7):
        self.lr, self.eps, self.h = learning_rate, eps, None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros(params)
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class RMSprop:
    """h *= a; h += (1 - a) * g * g; w -= lr * g / (sqrt(h) + eps) (book RMSprop, Chainer RMSprop)."""

    def __init__(self, learning_rate: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7):
        self.lr, self.a, self.eps, self.h = learning_rate, decay_rate, eps, None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros(params)
        for key in params:
            self.h[key] *= self.a
            self.h[key] += (1 - self.a) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class Adam:
    """Book Adam / Chainer Adam: m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v);
    lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t * m / (sqrt(v) + eps)."""

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.iter, self.m, self.v = 0, None, None

    def update(self, params: Params, grads: Params) -> None:
        if self.m is None:
            self.m, self.v = _zeros(params), _zeros(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.b2**self.iter) / (1.0 - self.b1**self.iter)
        for key in params:
            self.m[key] += (1 - self.b1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.b2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


class NotebookAdaGrad:
    """Course notebook 2_4's AdaGrad loop: step 1 h = full_like(W, 1e-4) (g not added), later h += g^2;
    W -= lr * g / sqrt(h), no eps."""

    def __init__(self, learning_rate: float = 0.1):
        self.lr, self.i, self.h = learning_rate, 0, {}

    def update(self, params: Params, grads: Params) -> None:
        for key in params:
            if self.i == 0:
                self.h[key] = np.full_like(params[key], 1e-4)
            else:
                self.h[key] += np.square(grads[key])
            params[key] -= self.lr * grads[key] / np.sqrt(self.h[key])
        self.i += 1


class OptaxMomentum:
    """optax.sgd(momentum): trace t = g + mu * t; w -= lr * t (nesterov: w -= lr * (g + mu * t))."""

    def __init__(self, learning_rate: float, momentum: float, nesterov: bool = False):
        self.lr, self.mu, self.nesterov, self.t = learning_rate, momentum, nesterov, None

    def update(self, params: Params, grads: Params) -> None:
        if self.t is None:
            self.t = _zeros(params)
        for key in params:
            self.t[key] = grads[key] + self.mu * self.t[key]
            step = grads[key] + self.mu * self.t[key] if self.nesterov else self.t[key]
            params[key] -= self.lr * step


class OptaxAdaGrad:
    """optax.adagrad: accumulator starts at 0.1; acc += g^2; w -= lr * g / sqrt(acc + eps)."""

    def __init__(self, learning_rate: float, eps: float = 1e-7):
        self.lr, self.eps, self.acc = learning_rate, eps, None

    def update(self, params: Params, grads: Params) -> None:
        if self.acc is None:
            self.acc = {key: np.full_like(val, 0.1) for key, val in params.items()}
        for key in params:
            self.acc[key] += grads[key] ** 2
            params[key] -= self.lr * grads[key] / np.sqrt(self.acc[key] + self.eps)


class OptaxRMSprop:
    """optax.rmsprop: nu = decay * nu + (1 - decay) * g^2; w -= lr * g / sqrt(nu + eps)."""

    def __init__(self, learning_rate: float, decay_rate: float = 0.9, eps: float = 1e-8):
        self.lr, self.decay, self.eps, self.nu = learning_rate, decay_rate, eps, None

    def update(self, params: Params, grads: Params) -> None:
        if self.nu is None:
            self.nu = _zeros(params)
        for key in params:
            self.nu[key] = self.decay * self.nu[key] + (1 - self.decay) * grads[key] ** 2
            params[key] -= self.lr * grads[key] / np.sqrt(self.nu[key] + self.eps)


class OptaxAdam:
    """optax.adam: mu, nu EMAs; mu_hat = mu / (1 - b1^t), nu_hat = nu / (1 - b2^t);
    w -= lr * mu_hat / (sqrt(nu_hat) + eps)."""

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.count, self.mu, self.nu = 0, None, None

    def update(self, params: Params, grads: Params) -> None:
        if self.mu is None:
            self.mu, self.nu = _zeros(params), _zeros(params)
        self.count += 1
        for key in params:
            self.mu[key] = self.b1 * self.mu[key] + (1 - self.b1) * grads[key]
            self.nu[key] = self.b2 * self.nu[key] + (1 - self.b2) * grads[key] ** 2
            mu_hat = self.mu[key] / (1 - self.b1**self.count)
            nu_hat = self.nu[key] / (1 - self.b2**self.count)
            params[key] -= self.lr * mu_hat / (np.sqrt(nu_hat) + self.eps)


def _optax_nesterov(learning_rate: float, momentum: float) -> OptaxMomentum:
    return OptaxMomentum(learning_rate, momentum, nesterov=True)


_BOOK = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSprop,
         "adam": Adam}
_NOTEBOOK = {"sgd": SGD, "momentum": Momentum, "adagrad": NotebookAdaGrad, "rmsprop": RMSprop, "adam": Adam}
_OPTAX = {"sgd": SGD, "momentum": OptaxMomentum, "nesterov": _optax_nesterov, "adagrad": OptaxAdaGrad,
          "rmsprop": OptaxRMSprop, "adam": OptaxAdam}
FAMILIES: dict[str, dict[str, Callable]] = {"course": _BOOK, "chainer": _BOOK, "notebook": _NOTEBOOK,
                                             "optax": _OPTAX}


def make(spec: str, **hparams: float):
    """The optimizer for "family:name", hyperparameters given over DEFAULTS[spec]."""
    family, name = spec.split(":")
    resolved = {**DEFAULTS[spec], **hparams}
    if any(v is None for v in resolved.values()):
        raise ValueError(f"{spec} needs {[k for k, v in resolved.items() if v is None]}")
    return FAMILIES[family][name](**resolved)


def penalize(grads: Params, params: Params, kind: str, rate: float, keys: Iterable[str]) -> Params:
    """Gradients with a penalty added on `keys`: kind "l2" g += rate * w (course weight_decay_lambda,
    Chainer WeightDecay), "l1" g += rate * sign(w) (course 2_5 L1 cell, Chainer Lasso)."""
    out = dict(grads)
    for key in keys:
        term = params[key] if kind == "l2" else np.sign(params[key])
        out[key] = grads[key] + rate * term
    return out


def affine_keys(params: Params) -> list[str]:
    """The notebooks' ('W1', 'W2', 'W3', 'b1', 'b2', 'b3'): every W{i} and b{i}, no gamma/beta."""
    return [k for k in params if k[0] in "Wb" and k[1:].isdigit()]


class AffineSGD:
    """The notebooks' loops: for key in ('W1', 'W2', 'W3', 'b1', 'b2', 'b3'): params[key] -= lr * grad[key].

    Every W{i} and b{i} moves; batch norm's gamma and beta keep their initial 1 and 0.
    """

    def __init__(self, learning_rate: float):
        self.lr = learning_rate

    def update(self, params: Params, grads: Params) -> None:
        for key in affine_keys(params):
            params[key] -= self.lr * grads[key]


class CourseCell:
    """The course's 2_5 L2 / L1 cells, for a network built with weight_decay_lambda=0:

        for idx in range(1, hidden_layer_num + 1):
            grad['W' + idx] = dW + weight_decay_lambda * W          (L2; L1: * np.sign(W))
            W -= learning_rate * grad['W' + idx];  b -= learning_rate * db

    The output layer (idx = hidden_layer_num + 1) is never updated.
    """

    def __init__(self, learning_rate: float, hidden_layer_num: int, l2: float = 0.0, l1: float = 0.0):
        self.lr, self.hidden, self.l2, self.l1 = learning_rate, hidden_layer_num, l2, l1

    def update(self, params: Params, grads: Params) -> None:
        for idx in range(1, self.hidden + 1):
            w = params[f"W{idx}"]
            grad_w = grads[f"W{idx}"] + self.l2 * w + self.l1 * np.sign(w)
            params[f"W{idx}"] -= self.lr * grad_w
            params[f"b{idx}"] -= self.lr * grads[f"b{idx}"]
