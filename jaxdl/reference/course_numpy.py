"""The course's MultiLayerNet in NumPy, layer by layer with hand-written backward.

Written from the book's common/layers.py formulas (float64, as the course runs):
Affine y = xW + b; Sigmoid; Relu; BatchNormalization (batch mean, biased variance,
sqrt(var + 10e-7), running = 0.9 * running + 0.1 * batch, running starts at 0);
Dropout (train x * mask with mask = rand > ratio, test x * (1 - ratio));
SoftmaxWithLoss (loss -mean(log(y_t + 1e-7)), backward (y - onehot) / N).
Its optimizers are `jaxdl.reference.optimizers`, its loop `jaxdl.reference.course_training.train`.
"""

from collections.abc import Sequence

import numpy as np


class Affine:
    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Sigmoid:
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.zeros_like(gamma)

    def forward(self, x, train_flg):
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            self.n, self.xc, self.std, self.xn = x.shape[0], xc, std, xc / std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.n) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.n


class Dropout:
    def __init__(self, ratio: float, rng: np.random.Generator):
        self.ratio, self.rng, self.next_mask = ratio, rng, None

    def forward(self, x, train_flg):
        if train_flg:
            mask = self.next_mask if self.next_mask is not None else self.rng.random(x.shape) > self.ratio
            self.mask, self.next_mask = mask, None
            return x * mask
        return x * (1.0 - self.ratio)

    def backward(self, dout):
        return dout * self.mask


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t, self.y = t, softmax(x)
        return -np.sum(np.log(self.y[np.arange(len(t)), t] + 1e-7)) / len(t)

    def backward(self):
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx / len(self.t)


def course_std(weight_init: str | float, fan_in: int) -> float:
    """The course's __init_weight scale rule."""
    if str(weight_init).lower() in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if str(weight_init).lower() in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    return float(weight_init)


class MultiLayerNet:
    """The course's MultiLayerNet; `params` may be given (e.g. converted from a Flax model)."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std="relu", weight_decay_lambda: float = 0.0,
                 use_dropout: bool = False, dropout_ratio: float = 0.5, use_batchnorm: bool = False,
                 params: dict | None = None, rng: np.random.Generator | None = None):
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.sizes = [input_size, *hidden_size_list, output_size]
        self.n_hidden = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = use_batchnorm
        if params is None:
            params = {}
            for i in range(1, len(self.sizes)):
                scale = course_std(weight_init_std, self.sizes[i - 1])
                params[f"W{i}"] = scale * self.rng.standard_normal((self.sizes[i - 1], self.sizes[i]))
                params[f"b{i}"] = np.zeros(self.sizes[i])
            if use_batchnorm:
                for i in range(1, self.n_hidden + 1):
                    params[f"gamma{i}"] = np.ones(self.sizes[i])
                    params[f"beta{i}"] = np.zeros(self.sizes[i])
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        activation_layer = {"sigmoid": Sigmoid, "relu": Relu}[activation]
        self.layers = {}
        for i in range(1, self.n_hidden + 1):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if use_batchnorm:
                self.layers[f"BatchNorm{i}"] = BatchNormalization(self.params[f"gamma{i}"], self.params[f"beta{i}"])
            self.layers[f"Activation{i}"] = activation_layer()
            if use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(dropout_ratio, self.rng)
        last = self.n_hidden + 1
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()

    def set_dropout_masks(self, masks: Sequence[np.ndarray]) -> None:
        """Use these masks (one per dropout layer, in order) for the next training forward."""
        dropouts = [layer for name, layer in self.layers.items() if name.startswith("Dropout")]
        for layer, mask in zip(dropouts, masks, strict=True):
            layer.next_mask = np.asarray(mask)

    def predict(self, x, train_flg=False):
        x = x.reshape(x.shape[0], -1)
        for name, layer in self.layers.items():
            x = layer.forward(x, train_flg) if name.startswith(("Dropout", "BatchNorm")) else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        y = self.predict(x, train_flg)
        decay = sum(0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{i}"] ** 2)
                    for i in range(1, self.n_hidden + 2))
        return self.last_layer.forward(y, t) + decay

    def accuracy(self, x, t):
        return float(np.mean(np.argmax(self.predict(x, False), axis=1) == t))

    def gradient(self, x, t):
        """Backprop through a train-mode forward; that forward's loss is kept in `train_loss`."""
        self.train_loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward()
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i in range(1, self.n_hidden + 2):
            affine = self.layers[f"Affine{i}"]
            grads[f"W{i}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{i}"]
            grads[f"b{i}"] = affine.db
            if self.use_batchnorm and i <= self.n_hidden:
                grads[f"gamma{i}"] = self.layers[f"BatchNorm{i}"].dgamma
                grads[f"beta{i}"] = self.layers[f"BatchNorm{i}"].dbeta
        return grads


def from_flax(variables: dict) -> dict[str, np.ndarray]:
    """Course parameter names (W1, b1, gamma1, ...) from a jaxdl MultiLayerNet's variables."""
    out = {}
    for name, sub in variables["params"].items():
        index = name.lstrip("abcdefghijklmnopqrstuvwxyz")
        if name.startswith("affine"):
            out[f"W{index}"], out[f"b{index}"] = np.asarray(sub["kernel"]), np.asarray(sub["bias"])
        elif name.startswith("batchnorm"):
            out[f"gamma{index}"], out[f"beta{index}"] = np.asarray(sub["gamma"]), np.asarray(sub["beta"])
    return out
