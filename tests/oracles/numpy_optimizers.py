"""Independent float64 NumPy oracles of every optimizer formula and gradient penalty.

Written from docs/spec formulas (reference-semantics section 4, the book's common/optimizer.py,
the study text's loops, optax's documented update rules) as plain loops over a dict of arrays,
in the book's style: `opt.update(params, grads)` changes `params` in place. Nothing here
imports jaxdl.
"""

import numpy as np

# The references' defaults, as the spec and the reference sources state them (None: the reference has none).
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


class SGD:
    def __init__(self, learning_rate):
        self.lr = learning_rate

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """v = mu*v - lr*g; w += v."""

    def __init__(self, learning_rate, momentum):
        self.lr, self.mu, self.v = learning_rate, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.v[key] = self.mu * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """Book / Chainer NesterovAG: v *= mu; v -= lr*g; w += mu*mu*v; w -= (1+mu)*lr*g."""

    def __init__(self, learning_rate, momentum):
        self.lr, self.mu, self.v = learning_rate, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.v[key] *= self.mu
            self.v[key] -= self.lr * grads[key]
            params[key] += self.mu * self.mu * self.v[key]
            params[key] -= (1 + self.mu) * self.lr * grads[key]


class AdaGrad:
    """h += g*g; w -= lr*g/(sqrt(h)+eps)."""

    def __init__(self, learning_rate, eps):
        self.lr, self.eps, self.h = learning_rate, eps, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class RMSprop:
    """h *= a; h += (1-a)*g*g; w -= lr*g/(sqrt(h)+eps)."""

    def __init__(self, learning_rate, decay_rate, eps):
        self.lr, self.a, self.eps, self.h = learning_rate, decay_rate, eps, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] *= self.a
            self.h[key] += (1 - self.a) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class Adam:
    """m += (1-b1)(g-m); v += (1-b2)(g^2-v); lr_t = lr*sqrt(1-b2^t)/(1-b1^t); w -= lr_t*m/(sqrt(v)+eps)."""

    def __init__(self, learning_rate, beta1, beta2, eps):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.b2**self.iter) / (1.0 - self.b1**self.iter)
        for key in params:
            self.m[key] += (1 - self.b1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.b2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


class NotebookAdaGrad:
    """The notebook's loop: i == 0: h = full_like(W, 1e-4); else h += g^2; W -= lr*g/sqrt(h)."""

    def __init__(self, learning_rate):
        self.lr, self.i, self.h = learning_rate, 0, {}

    def update(self, params, grads):
        for key in params:
            if self.i == 0:
                self.h[key] = np.full_like(params[key], 1e-4)
            else:
                self.h[key] += np.square(grads[key])
            params[key] -= self.lr * grads[key] / np.sqrt(self.h[key])
        self.i += 1


class OptaxMomentum:
    """optax.sgd(momentum): trace t = g + mu*t; w -= lr*t (nesterov: w -= lr*(g + mu*t))."""

    def __init__(self, learning_rate, momentum, nesterov=False):
        self.lr, self.mu, self.nesterov, self.t = learning_rate, momentum, nesterov, None

    def update(self, params, grads):
        if self.t is None:
            self.t = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.t[key] = grads[key] + self.mu * self.t[key]
            step = grads[key] + self.mu * self.t[key] if self.nesterov else self.t[key]
            params[key] -= self.lr * step


class OptaxAdaGrad:
    """optax.adagrad: accumulator starts at 0.1; acc += g^2; w -= lr*g/sqrt(acc + eps)."""

    def __init__(self, learning_rate, eps):
        self.lr, self.eps, self.acc = learning_rate, eps, None

    def update(self, params, grads):
        if self.acc is None:
            self.acc = {key: np.full_like(val, 0.1) for key, val in params.items()}
        for key in params:
            self.acc[key] += grads[key] ** 2
            params[key] -= self.lr * grads[key] / np.sqrt(self.acc[key] + self.eps)


class OptaxRMSprop:
    """optax.rmsprop: nu = decay*nu + (1-decay)*g^2; w -= lr*g/sqrt(nu + eps)."""

    def __init__(self, learning_rate, decay_rate, eps):
        self.lr, self.decay, self.eps, self.nu = learning_rate, decay_rate, eps, None

    def update(self, params, grads):
        if self.nu is None:
            self.nu = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.nu[key] = self.decay * self.nu[key] + (1 - self.decay) * grads[key] ** 2
            params[key] -= self.lr * grads[key] / np.sqrt(self.nu[key] + self.eps)


class OptaxAdam:
    """optax.adam: mu, nu EMAs; mu_hat = mu/(1-b1^t), nu_hat = nu/(1-b2^t); w -= lr*mu_hat/(sqrt(nu_hat)+eps)."""

    def __init__(self, learning_rate, beta1, beta2, eps):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.count, self.mu, self.nu = 0, None, None

    def update(self, params, grads):
        if self.mu is None:
            self.mu = {key: np.zeros_like(val) for key, val in params.items()}
            self.nu = {key: np.zeros_like(val) for key, val in params.items()}
        self.count += 1
        for key in params:
            self.mu[key] = self.b1 * self.mu[key] + (1 - self.b1) * grads[key]
            self.nu[key] = self.b2 * self.nu[key] + (1 - self.b2) * grads[key] ** 2
            mu_hat = self.mu[key] / (1 - self.b1**self.count)
            nu_hat = self.nu[key] / (1 - self.b2**self.count)
            params[key] -= self.lr * mu_hat / (np.sqrt(nu_hat) + self.eps)


_CLASSES = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
_NOTEBOOK = {**_CLASSES, "adagrad": NotebookAdaGrad}
_NOTEBOOK.pop("nesterov")
_OPTAX = {
    "sgd": SGD,
    "momentum": OptaxMomentum,
    "nesterov": lambda learning_rate, momentum: OptaxMomentum(learning_rate, momentum, nesterov=True),
    "adagrad": OptaxAdaGrad,
    "rmsprop": OptaxRMSprop,
    "adam": OptaxAdam,
}
_FAMILIES = {"course": _CLASSES, "chainer": _CLASSES, "notebook": _NOTEBOOK, "optax": _OPTAX}


def make(spec: str, **hparams):
    """The oracle optimizer for "family:name", hyperparameters given over DEFAULTS[spec]."""
    family, name = spec.split(":")
    resolved = {**DEFAULTS[spec], **hparams}
    if any(v is None for v in resolved.values()):
        raise ValueError(f"{spec} needs {[k for k, v in resolved.items() if v is None]}")
    return _FAMILIES[family][name](**resolved)


def penalize(grads, params, kind: str, rate: float, keys):
    """Gradients with a penalty added on `keys`: kind "l2" g += rate*w, "l1" g += rate*sign(w)."""
    out = dict(grads)
    for key in keys:
        term = params[key] if kind == "l2" else np.sign(params[key])
        out[key] = grads[key] + rate * term
    return out
