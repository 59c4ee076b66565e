"""The course's training loops in NumPy: the book's optimizers, the 2_5 notebook's L1/L2 cells, the loop.

Optimizers follow the book's common/optimizer.py (`update(params, grads)` in place); the
cells are the course's hand-written updates that touch the hidden layers only; `train`
is the notebooks' loop (batches drawn with replacement, no epochs, evaluations every
`eval_every` steps). Any network with `params`, `gradient`, `loss` and `accuracy` fits
(`course_numpy.MultiLayerNet`, `course_convnet.ConvNet`).
"""

from collections.abc import Callable

import numpy as np


class SGD:
    """w -= lr * g."""

    def __init__(self, learning_rate: float = 0.01):
        self.lr = learning_rate

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """v = momentum * v - lr * g; w += v."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum, self.v = learning_rate, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class AdaGrad:
    """h += g^2; w -= lr * g / (sqrt(h) + 1e-7)."""

    def __init__(self, learning_rate: float = 0.01):
        self.lr, self.h = learning_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """m += (1-b1)(g-m); v += (1-b2)(g^2-v); w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + 1e-7)."""

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = learning_rate, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad, "adam": Adam}


class AffineSGD:
    """The notebook's loops: for key in ('W1', 'W2', 'W3', 'b1', 'b2', 'b3'): params[key] -= lr * grad[key].

    Every W{i} and b{i} moves; batch norm's gamma and beta keep their initial 1 and 0.
    """

    def __init__(self, learning_rate: float):
        self.lr = learning_rate

    def update(self, params, grads):
        for key in params:
            if key[0] in "Wb" and key[1:].isdigit():
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

    def update(self, params, grads):
        for idx in range(1, self.hidden + 1):
            w = params[f"W{idx}"]
            grad_w = grads[f"W{idx}"] + self.l2 * w + self.l1 * np.sign(w)
            params[f"W{idx}"] -= self.lr * grad_w
            params[f"b{idx}"] -= self.lr * grads[f"b{idx}"]


def train(net, optimizer, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray, t_test: np.ndarray,
          steps: int, eval_every: int, batch_indices: Callable[[int], np.ndarray],
          train_accuracy: str = "set") -> dict[str, list[float]]:
    """The notebooks' loop; step i trains on `batch_indices(i)` (the course: np.random.choice(n, 100)).

    After each update the test-mode loss on the batch is logged; every `eval_every` steps the
    accuracy on the test set and on the whole training set ("set", 2_5-2_8) or the batch ("batch", 2_2-2_4).
    """
    if train_accuracy not in ("set", "batch"):
        raise ValueError(f"train_accuracy must be 'set' or 'batch', got {train_accuracy!r}")
    curves: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    for i in range(steps):
        idx = batch_indices(i)
        x_batch, t_batch = x_train[idx], t_train[idx]
        optimizer.update(net.params, net.gradient(x_batch, t_batch))
        curves["loss"].append(float(net.loss(x_batch, t_batch)))
        if (i + 1) % eval_every == 0:
            on_train = (x_train, t_train) if train_accuracy == "set" else (x_batch, t_batch)
            curves["train_accuracy"].append(float(net.accuracy(*on_train)))
            curves["test_accuracy"].append(float(net.accuracy(x_test, t_test)))
    return curves
