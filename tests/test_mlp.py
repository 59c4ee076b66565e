"""Parity of the Flax MultiLayerNet and train step with the NumPy course reference."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.models import MultiLayerNet
from jaxdl.reference import course_numpy, optimizers
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import make_eval_step, make_loss_fn, make_train_step

HIDDEN = (12, 8)
IN, OUT, N = 20, 10, 32
COMBOS = list(itertools.product(["sigmoid", "relu"], [0.01, "Xavier", "He"], [False, True], [0.0, 0.3], [0.0, 0.1]))


def close(actual, expected, rtol=3e-5, scale=None):
    """Float32 rounding against a float64 oracle, relative to `scale` (default: the oracle's own)."""
    expected = np.asarray(expected, np.float64)
    scale = np.max(np.abs(expected)) if scale is None else scale
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=rtol * max(scale, 1e-30))


def layer_scale(tree, key):
    """A bias feeding batch norm has gradient 0 in exact arithmetic (and stays at its start):
    judge biases on the scale of their layer's W."""
    layer_keys = [key, "W" + key[1:]] if key[0] == "b" and key[1:].isdigit() else [key]
    return max(np.max(np.abs(tree[k])) for k in layer_keys)


def make_batch(seed):
    rng = np.random.default_rng(seed)
    return rng.random((N, IN), dtype=np.float32), rng.integers(0, OUT, N).astype(np.int32)


def build(activation, init, batchnorm, dropout, decay, seed=0):
    model = MultiLayerNet(IN, HIDDEN, OUT, activation=activation, weight_init=init,
                          use_batchnorm=batchnorm, dropout_ratio=dropout)
    task = Task(model, optax.sgd(0.1), loss="course", weight_decay=decay)
    state = task.init(jax.random.key(seed), jnp.zeros((1, IN)))
    params = course_numpy.from_flax({"params": state.params})
    oracle = course_numpy.MultiLayerNet(IN, list(HIDDEN), OUT, activation=activation, weight_decay_lambda=decay,
                                        use_dropout=dropout > 0, dropout_ratio=dropout,
                                        use_batchnorm=batchnorm, params=params)
    return task, state, oracle


def dropout_masks(task, state, images):
    """The masks the train step at state.step draws (sown by jaxdl.nn.Dropout)."""
    _, sown = task.model.apply({"params": state.params, **state.model_state}, images, train=True,
                               rngs={"dropout": jax.random.fold_in(state.rng, state.step)},
                               mutable=["batch_stats", "intermediates"])
    layers = sown.get("intermediates", {})
    return [np.asarray(layers[name]["mask"][0]) for name in sorted(layers)]


@pytest.mark.parametrize("activation,init,batchnorm,dropout,decay", COMBOS)
def test_three_train_steps_match_numpy(activation, init, batchnorm, dropout, decay):
    """Loss, every gradient, the SGD update, running statistics and test-mode outputs."""
    task, state, oracle = build(activation, init, batchnorm, dropout, decay)
    loss_fn, train_step, eval_step = make_loss_fn(task), jax.jit(make_train_step(task)), make_eval_step(task)
    for step in range(3):
        x, t = make_batch(step)
        batch = Batch(jnp.asarray(x), jnp.asarray(t))
        if dropout:
            oracle.set_dropout_masks(dropout_masks(task, state, x))
        grads = oracle.gradient(x, t)
        jax_grads = jax.grad(lambda p: loss_fn(p, state, batch)[0])(state.params)
        for key, value in course_numpy.from_flax({"params": jax_grads}).items():
            close(value, grads[key], scale=layer_scale(grads, key))
        state, metrics = train_step(state, batch)
        close(metrics["loss"], oracle.train_loss)
        optimizers.SGD(0.1).update(oracle.params, grads)  # in place: the layers hold the same arrays
        for key, value in course_numpy.from_flax({"params": state.params}).items():
            close(value, oracle.params[key], scale=layer_scale(oracle.params, key))
    if batchnorm:
        for i in (1, 2):
            stats = state.model_state["batch_stats"][f"batchnorm{i}"]
            close(stats["mean"], oracle.layers[f"BatchNorm{i}"].running_mean)
            close(stats["var"], oracle.layers[f"BatchNorm{i}"].running_var)
    x, t = make_batch(99)
    logits = task.model.apply({"params": state.params, **state.model_state}, x, train=False)
    close(logits, oracle.predict(x, train_flg=False))
    metrics = eval_step(state, Batch(jnp.asarray(x), jnp.asarray(t)))
    close(metrics["loss"], oracle.loss(x, t, train_flg=False))
    assert float(metrics["accuracy"]) == oracle.accuracy(x, t)
