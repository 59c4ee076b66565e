"""The course notebooks' training loop in NumPy, for any network with the book's interface.

The network has `params`, `gradient(x, t)` (which keeps its train-mode loss in `train_loss`),
`loss(x, t)` and `accuracy(x, t)` (`course_numpy.MultiLayerNet`, `course_convnet.ConvNet`);
the optimizer has `update(params, grads)` (`jaxdl.reference.optimizers`).
"""

from collections.abc import Callable

import numpy as np

LOGGED_LOSSES = ("after_update", "train_forward")


def train(net, optimizer, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray, t_test: np.ndarray,
          steps: int, eval_every: int, batch_indices: Callable[[int], np.ndarray],
          train_accuracy: str = "set", loss: str = "after_update") -> dict[str, list[float]]:
    """The notebooks' loop: no epochs, step i trains on `batch_indices(i)` (the course draws
    np.random.choice(train_size, batch_size), with replacement, every step):

        grads = net.gradient(x_batch, t_batch); optimizer.update(net.params, grads)

    Each step logs one loss: "after_update", the notebooks' `net.loss(x_batch, t_batch)` (test
    mode, after the update), or "train_forward", the loss of the train-mode forward the gradient
    came from (before the update, as jaxdl's History.loss). Every `eval_every` steps it logs the
    accuracy on the test set and, as "train_accuracy", on the whole training set ("set", 2_5-2_8)
    or on the step's batch ("batch", 2_2-2_4).
    """
    if train_accuracy not in ("set", "batch"):
        raise ValueError(f"train_accuracy must be 'set' or 'batch', got {train_accuracy!r}")
    if loss not in LOGGED_LOSSES:
        raise ValueError(f"loss must be one of {LOGGED_LOSSES}, got {loss!r}")
    curves: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    for i in range(steps):
        idx = batch_indices(i)
        x_batch, t_batch = x_train[idx], t_train[idx]
        optimizer.update(net.params, net.gradient(x_batch, t_batch))
        curves["loss"].append(float(net.loss(x_batch, t_batch) if loss == "after_update" else net.train_loss))
        if (i + 1) % eval_every == 0:
            on_train = (x_train, t_train) if train_accuracy == "set" else (x_batch, t_batch)
            curves["train_accuracy"].append(float(net.accuracy(*on_train)))
            curves["test_accuracy"].append(float(net.accuracy(x_test, t_test)))
    return curves
