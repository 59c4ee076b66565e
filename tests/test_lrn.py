"""jaxdl.nn.lrn against Chainer 7.8.1 (fixtures) and the NumPy oracle (jaxdl.reference.chainer_numpy)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.lrn import local_response_normalization
from jaxdl.reference import chainer_numpy
from tests.conftest import FIXTURES

LRN = np.load(FIXTURES / "lrn.npz")
CASES = range(int(LRN["n_cases"]))


def value_and_input_grad(x: np.ndarray, gy: np.ndarray, axis: int, **params):
    """(y, d sum(y * gy) / dx) through jax.vjp, as Chainer's fixtures define gx; jitted as the
    networks run it (one program per case instead of one per operation). A fresh jit each call:
    every call traces the function as it is then (a test may monkeypatch it)."""
    def value_and_vjp(x, gy):
        y, vjp = jax.vjp(lambda v: local_response_normalization(v, axis=axis, **params), x)
        return y, vjp(gy)[0]

    y, gx = jax.jit(value_and_vjp)(jnp.asarray(x), jnp.asarray(gy))
    return np.asarray(y), np.asarray(gx)


@pytest.mark.parametrize("case", CASES)
def test_matches_chainer(case):
    n, k, alpha, beta = LRN[f"case{case}/params"]
    x, gy = LRN[f"case{case}/x"], LRN[f"case{case}/gy"]  # NCHW, channel axis 1
    y, gx = value_and_input_grad(x, gy, axis=1, n=int(n), k=k, alpha=alpha, beta=beta)
    np.testing.assert_allclose(y, LRN[f"case{case}/y"], rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(gx, LRN[f"case{case}/gx"], rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("n,k,alpha,beta,channels", [
    (5, 2.0, 1e-4, 0.75, 16),  # Chainer defaults
    (5, 1.0, 0.5, 0.75, 9),  # large alpha: the window sum matters
    (4, 2.0, 0.3, 0.75, 8),  # even n: half-width 2 on both sides (n + 1 channels)
    (7, 0.5, 1.0, 1.5, 3),  # window wider than the channel axis
    (1, 1.0, 1.0, 0.5, 5),  # window of one channel
])
def test_matches_numpy_oracle_nhwc(n, k, alpha, beta, channels):
    rng = np.random.default_rng(n * 100 + channels)
    x = rng.standard_normal((2, 3, 4, channels)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    y, gx = value_and_input_grad(x, gy, axis=-1, n=n, k=k, alpha=alpha, beta=beta)
    to_nchw, to_nhwc = (0, 3, 1, 2), (0, 2, 3, 1)
    y_ref = chainer_numpy.lrn(x.transpose(to_nchw), n, k, alpha, beta).transpose(to_nhwc)
    gx_ref = chainer_numpy.lrn_grad(x.transpose(to_nchw), gy.transpose(to_nchw), n, k, alpha, beta).transpose(to_nhwc)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-6)


def test_jit_and_grad_of_a_scalar_loss():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 5, 5, 12)), jnp.float32)
    loss = jax.jit(jax.grad(lambda v: jnp.sum(local_response_normalization(v, alpha=0.5) ** 2)))
    gx = np.asarray(loss(x))
    x64 = np.asarray(x).transpose(0, 3, 1, 2)
    y64 = chainer_numpy.lrn(x64, 5, 2.0, 0.5, 0.75)
    ref = chainer_numpy.lrn_grad(x64, 2 * y64, 5, 2.0, 0.5, 0.75).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(gx, ref, rtol=1e-5, atol=1e-6)


def test_bfloat16_input_keeps_its_dtype():
    x = np.random.default_rng(1).standard_normal((1, 2, 2, 8)).astype(np.float32)
    y = local_response_normalization(jnp.asarray(x, jnp.bfloat16), alpha=0.5)
    assert y.dtype == jnp.bfloat16
    ref = chainer_numpy.lrn(x.transpose(0, 3, 1, 2), 5, 2.0, 0.5, 0.75).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(y, np.float32), ref, rtol=2e-2, atol=2e-2)


def test_rejects_empty_window():
    with pytest.raises(ValueError, match="n must be >= 1"):
        local_response_normalization(jnp.ones((1, 1, 1, 4)), n=0)
