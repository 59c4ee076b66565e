"""jaxdl.nn.weight_layout_matmul / dense_dot_general against the matmul calculus in NumPy."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn import dense_dot_general, weight_layout_matmul


@pytest.mark.parametrize("x_shape", [(5, 7), (2, 5, 7)])
def test_value_and_gradients_are_the_matmul_calculus(x_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((7, 3)).astype(np.float32)
    g = rng.standard_normal((*x_shape[:-1], 3)).astype(np.float32)
    y, vjp = jax.vjp(weight_layout_matmul, x, w)
    dx, dw = vjp(jnp.asarray(g))
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, g))
    np.testing.assert_allclose(y, x64 @ w64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, g64 @ w64.T, rtol=1e-5, atol=1e-5)  # dx = g W^T
    np.testing.assert_allclose(dw, x64.reshape(-1, 7).T @ g64.reshape(-1, 3), rtol=1e-5, atol=1e-5)  # dW = x^T g
    assert dw.shape == w.shape


def test_stacked_weights_under_vmap():
    """Weights of 4 configs on a shared input: each config's gradient is its own x^T g."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    ws = rng.standard_normal((4, 5, 3)).astype(np.float32)
    def loss(w):
        return jnp.sum(jnp.tanh(weight_layout_matmul(x, w)))
    grads = jax.jit(jax.vmap(jax.grad(loss)))(ws)
    for w, dw in zip(ws.astype(np.float64), grads, strict=True):
        np.testing.assert_allclose(dw, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-4, atol=1e-5)


def test_flax_dense_uses_it():
    dense = nn.Dense(3, dot_general=dense_dot_general)
    x = jnp.ones((2, 4))
    params = dense.init(jax.random.key(0), x)["params"]
    np.testing.assert_allclose(dense.apply({"params": params}, x), x @ params["kernel"] + params["bias"], rtol=1e-6)


def test_other_contractions_are_refused():
    with pytest.raises(ValueError, match="computes Dense's x . W only"):
        dense_dot_general(jnp.ones((2, 4)), jnp.ones((3, 4)), (((1,), (1,)), ((), ())))
