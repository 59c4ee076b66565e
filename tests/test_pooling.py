"""jaxdl.nn.pooling against Chainer 7.8.1 (fixtures) and the NumPy oracle, and the size formulas."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.output_size import conv_output_size, pooling_output_size
from jaxdl.nn.pooling import average_pooling_2d, max_pooling_2d
from jaxdl.reference import chainer_numpy
from tests.conftest import FIXTURES

POOL = np.load(FIXTURES / "pooling.npz")
TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def value_and_input_grad(x_nchw, gy_nchw, **params):
    """(y, d sum(y * gy) / dx), NCHW in and out, through the NHWC function, jitted as the networks
    run it (one program per case instead of one per operation). A fresh jit each call: every call
    traces max_pooling_2d as it is then (a test may monkeypatch its path), and the persistent
    compilation cache still compiles an equal program once."""
    def value_and_vjp(x, gy):
        y, vjp = jax.vjp(lambda v: max_pooling_2d(v, **params), x)
        return y, vjp(gy)[0]

    y, gx = jax.jit(value_and_vjp)(jnp.asarray(x_nchw.transpose(TO_NHWC)), jnp.asarray(gy_nchw.transpose(TO_NHWC)))
    return np.asarray(y).transpose(TO_NCHW), np.asarray(gx).transpose(TO_NCHW)


@pytest.mark.parametrize("case", range(int(POOL["n_cases"])))
def test_matches_chainer(case):
    _, _, ksize, stride, pad, cover_all = (int(v) for v in POOL[f"case{case}/params"])
    params = dict(ksize=ksize, stride=None if stride < 0 else stride, pad=pad, cover_all=bool(cover_all))
    y, gx = value_and_input_grad(POOL[f"case{case}/x"], POOL[f"case{case}/gy"], **params)
    np.testing.assert_array_equal(y, POOL[f"case{case}/y"])  # a max is exact (including -inf windows)
    np.testing.assert_allclose(gx, POOL[f"case{case}/gx"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("size,ksize,stride,pad,cover_all", [
    (7, 3, 2, 0, True), (6, 3, 2, 0, True), (6, 3, 2, 0, False), (10, 3, 3, 1, True),
    (9, 2, None, 0, True), (8, 4, 3, 2, True), (8, 4, 3, 2, False), (5, 5, 1, 0, True),
    (9, 2, 3, 0, True), (10, 2, 3, 1, False),  # stride > ksize: pixels between windows get no gradient
])
def test_matches_numpy_oracle(size, ksize, stride, pad, cover_all):
    rng = np.random.default_rng(size * 7 + ksize)
    x = rng.permutation(2 * 3 * size * (size + 1)).reshape(2, 3, size, size + 1).astype(np.float32)
    s = ksize if stride is None else stride
    y_ref, _ = chainer_numpy.max_pool(x, None, ksize, s, pad, cover_all)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    y_ref, gx_ref = chainer_numpy.max_pool(x, gy, ksize, s, pad, cover_all)
    y, gx = value_and_input_grad(x, gy, ksize=ksize, stride=stride, pad=pad, cover_all=cover_all)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-6)


def test_ties_send_the_gradient_to_the_first_maximum():
    x = np.zeros((1, 1, 3, 3), np.float32)  # every window is all ties, as after a ReLU
    gy = np.ones((1, 1, 1, 1), np.float32)
    _, gx = value_and_input_grad(x, gy, ksize=3, stride=2)
    _, gx_ref = chainer_numpy.max_pool(x, gy, 3, 2, 0, True)
    np.testing.assert_array_equal(gx, gx_ref)


def test_rectangular_window_and_stride():
    x = np.random.default_rng(3).permutation(2 * 2 * 7 * 9).reshape(2, 2, 7, 9).astype(np.float32)
    y = np.asarray(max_pooling_2d(jnp.asarray(x.transpose(TO_NHWC)), (2, 3), stride=(2, 1), pad=(1, 0)))
    # rows: 7 + 2 -> 5 windows of 2 at stride 2 (cover_all adds one -inf row); columns: 9 -> 7 of 3
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 0)), constant_values=-np.inf)
    expected = np.empty((2, 2, 5, 7), np.float32)
    for i in range(5):
        for j in range(7):
            expected[:, :, i, j] = padded[:, :, 2 * i:2 * i + 2, j:j + 3].max(axis=(2, 3))
    np.testing.assert_array_equal(y.transpose(TO_NCHW), expected)


def test_pooling_output_size_is_the_covering_window_count():
    for size, k, s, p in itertools.product(range(3, 20), [1, 2, 3, 5], [1, 2, 3, 4], [0, 1, 2]):
        if size + 2 * p >= k:
            for cover_all in (True, False):
                expected = chainer_numpy.pooled_size(size, k, s, p, cover_all)
                assert pooling_output_size(size, k, s, p, cover_all) == expected, (size, k, s, p, cover_all)


def test_alexnet_sizes_and_the_224_difference():
    assert conv_output_size(227, 11, 4, 0) == 55
    assert pooling_output_size(55, 3, 2, 0, True) == pooling_output_size(55, 3, 2, 0, False) == 27
    assert conv_output_size(224, 11, 4, 0) == 54
    assert (pooling_output_size(54, 3, 2, 0, True), pooling_output_size(54, 3, 2, 0, False)) == (27, 26)
    assert conv_output_size(27, 5, 1, 2) == 27 and conv_output_size(13, 3, 1, 1) == 13


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="rank 4"):
        max_pooling_2d(jnp.ones((3, 3, 1)), 2)
    with pytest.raises(ValueError, match="does not fit"):
        max_pooling_2d(jnp.ones((1, 2, 2, 1)), 3, cover_all=False)
    with pytest.raises(ValueError, match="ksize must be"):
        max_pooling_2d(jnp.ones((1, 4, 4, 1)), (2, 2, 2))


@pytest.mark.parametrize("case", range(int(POOL["n_cases"])))
def test_large_window_path_matches_chainer(case, monkeypatch):
    """The reduce_window path of windows over UNROLLED_MAX_WINDOW pixels, forced on every fixture case."""
    from jaxdl.nn import pooling

    monkeypatch.setattr(pooling, "UNROLLED_MAX_WINDOW", 0)
    pooling._pool_jit.clear_cache()
    try:
        test_matches_chainer(case)
    finally:
        pooling._pool_jit.clear_cache()


# ------------------------------------------------------------------------------ average pooling
def test_average_pooling_counts_the_padding_like_chainer():
    """Chainer's im2col mean: a window over the zero padding still divides by kh * kw (hand-computed)."""
    x = jnp.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    y = average_pooling_2d(x, 3, stride=1, pad=1)
    expected = np.array([[1 + 2 + 4 + 5, 1 + 2 + 3 + 4 + 5 + 6, 2 + 3 + 5 + 6],
                         [1 + 2 + 4 + 5 + 7 + 8, 45, 2 + 3 + 5 + 6 + 8 + 9],
                         [4 + 5 + 7 + 8, 4 + 5 + 6 + 7 + 8 + 9, 5 + 6 + 8 + 9]]) / 9.0
    np.testing.assert_allclose(np.asarray(y)[0, :, :, 0], expected, rtol=1e-6)
    # stride None = ksize, floor output size (no cover_all): 5 -> 2 windows of 2
    z = average_pooling_2d(jnp.ones((1, 5, 5, 2)), 2)
    assert z.shape == (1, 2, 2, 2) and np.allclose(z, 1.0)
    # each window spreads its gradient / (kh * kw) over its pixels
    g = jax.grad(lambda v: average_pooling_2d(v, 3, stride=1, pad=1).sum())(x)
    np.testing.assert_allclose(np.asarray(g)[0, :, :, 0], np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9.0, rtol=1e-6)


def test_average_pooling_rejects_a_window_that_does_not_fit():
    with pytest.raises(ValueError, match="window 7"):
        average_pooling_2d(jnp.ones((1, 5, 5, 1)), 7)
