"""jaxdl.train.losses against NumPy re-implementations of the book's and Chainer's formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.train.losses import accuracy, course_softmax_cross_entropy, softmax_cross_entropy


def book_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)


def book_softmax_with_loss(x, t):
    """The book's SoftmaxWithLoss for a 2-D batch: (loss, dx for dout = 1)."""
    y = book_softmax(x)
    batch = x.shape[0]
    loss = -np.sum(np.log(y[np.arange(batch), t] + 1e-7)) / batch
    onehot = np.eye(x.shape[1])[t]
    return loss, (y - onehot) / batch


@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: a confident wrong class, where the 1e-7 shows
def test_course_loss_value_and_gradient_are_the_books(scale):
    rng = np.random.default_rng(int(scale))
    x = (rng.standard_normal((7, 10)) * scale).astype(np.float32)
    t = rng.integers(0, 10, 7)
    loss_ref, dx_ref = book_softmax_with_loss(x.astype(np.float64), t)
    loss, dx = jax.value_and_grad(course_softmax_cross_entropy)(jnp.asarray(x), jnp.asarray(t))
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-5)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-7)


def test_course_loss_means_over_every_row_and_vmaps():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    t = rng.integers(0, 4, (3, 5))
    loss_ref, dx_ref = book_softmax_with_loss(x.reshape(15, 4).astype(np.float64), t.reshape(15))
    loss, dx = jax.value_and_grad(course_softmax_cross_entropy)(jnp.asarray(x), jnp.asarray(t))
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-5)
    np.testing.assert_allclose(dx, dx_ref.reshape(3, 5, 4), rtol=1e-5, atol=1e-7)
    per_batch = jax.vmap(jax.grad(course_softmax_cross_entropy))(jnp.asarray(x), jnp.asarray(t))
    for b in range(3):
        np.testing.assert_allclose(per_batch[b], book_softmax_with_loss(x[b].astype(np.float64), t[b])[1],
                                   rtol=1e-5, atol=1e-7)


def test_chainer_loss_is_the_mean_negative_log_softmax():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(np.float32) * 20
    t = rng.integers(0, 5, 6)
    log_softmax = np.log(book_softmax(x.astype(np.float64)))
    np.testing.assert_allclose(softmax_cross_entropy(jnp.asarray(x), jnp.asarray(t)),
                               -log_softmax[np.arange(6), t].mean(), rtol=1e-5)


def test_accuracy_counts_argmax_hits():
    logits = jnp.asarray([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert float(accuracy(logits, jnp.asarray([1, 0, 0, 1]))) == 0.5
