"""The course's convolution and pooling on NHWC against the book's im2col layers and Chainer 7.8.1.

The NumPy oracle (jaxdl.reference.course_convnet: the book's im2col, col2im, Convolution,
Pooling) is itself checked against the Chainer fixtures first.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.conv import convolution_2d
from jaxdl.nn.course_pooling import course_max_pooling_2d
from jaxdl.nn.output_size import conv_output_size, pooling_output_size
from jaxdl.nn.pooling import max_pooling_2d
from jaxdl.reference import course_convnet
from tests.conftest import FIXTURES

CONV = np.load(FIXTURES / "conv.npz")
POOL = np.load(FIXTURES / "pooling.npz")
TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def book_conv(x, w, b, stride, pad, gy):
    """(y, gx, gW, gb) of the book's Convolution layer, NCHW float64."""
    layer = course_convnet.Convolution(w.astype(np.float64), b.astype(np.float64), stride, pad)
    y = layer.forward(x.astype(np.float64))
    gx = layer.backward(gy.astype(np.float64))
    return y, gx, layer.dW, layer.db


def jax_conv(x, w, b, stride, pad, gy):
    """(y, gx, gW, gb) of convolution_2d + bias, NCHW in and out (kernel in Chainer's (O, C, kh, kw)),
    jitted as the networks run it (one program per case instead of one per operation). A fresh jit
    each call: every call traces the function as it is then (a test may monkeypatch it)."""
    def f(x_nhwc, kernel, bias):
        return convolution_2d(x_nhwc, kernel, stride, pad) + bias

    def value_and_vjp(x_nhwc, kernel, bias, gy_nhwc):
        y, vjp = jax.vjp(f, x_nhwc, kernel, bias)
        return (y, *vjp(gy_nhwc.astype(y.dtype)))

    args = (jnp.asarray(x.transpose(TO_NHWC)), jnp.asarray(w.transpose(2, 3, 1, 0)), jnp.asarray(b))
    y, gx, gk, gb = jax.jit(value_and_vjp)(*args, jnp.asarray(gy.transpose(TO_NHWC)))
    return (np.asarray(y).transpose(TO_NCHW), np.asarray(gx).transpose(TO_NCHW),
            np.asarray(gk).transpose(3, 2, 0, 1), np.asarray(gb))


@pytest.mark.parametrize("case", range(int(CONV["n_cases"])))
def test_book_convolution_and_convolution_2d_match_chainer(case):
    *_, stride, pad = (int(v) for v in CONV[f"case{case}/params"])
    x, w, b, gy = (CONV[f"case{case}/{k}"] for k in ("x", "W", "b", "gy"))
    expected = [CONV[f"case{case}/{k}"] for k in ("y", "gx", "gW", "gb")]
    for name, got in (("book", book_conv(x, w, b, stride, pad, gy)), ("jax", jax_conv(x, w, b, stride, pad, gy))):
        for value, want, key in zip(got, expected, ("y", "gx", "gW", "gb"), strict=True):
            np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5, err_msg=f"{name} {key}")


@pytest.mark.parametrize("c,size,o,k,stride,pad", [(1, 28, 30, 5, 1, 0), (1, 28, 10, 7, 1, 1), (3, 16, 4, 3, 1, 2),
                                                   (2, 11, 3, 4, 3, 1), (4, 9, 5, 3, 2, 0)])
def test_convolution_2d_matches_the_book_layer(c, size, o, k, stride, pad):
    rng = np.random.default_rng(size + k)
    x, w, b = rng.standard_normal((2, c, size, size + 1)), rng.standard_normal((o, c, k, k)), rng.standard_normal(o)
    out = (conv_output_size(size, k, stride, pad), conv_output_size(size + 1, k, stride, pad))
    gy = rng.standard_normal((2, o, *out))
    f32 = [a.astype(np.float32) for a in (x, w, b, gy)]
    got_all, want_all = jax_conv(*f32[:3], stride, pad, f32[3]), book_conv(*f32[:3], stride, pad, f32[3])
    for got, want in zip(got_all, want_all, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_grouped_convolution_is_one_convolution_per_group():
    """Chainer's groups=G: output channels of group g read input channels of group g only; the book layer
    (an independent oracle) run on each group's slice and the results concatenated."""
    rng = np.random.default_rng(5)
    groups, c, o = 4, 8, 12
    x, w = rng.standard_normal((2, c, 7, 7)).astype(np.float32), rng.standard_normal((o, c // groups, 3, 3))
    got = convolution_2d(jnp.asarray(x.transpose(TO_NHWC)), jnp.asarray(w.astype(np.float32).transpose(2, 3, 1, 0)),
                         stride=2, pad=1, groups=groups)
    cin, cout = c // groups, o // groups
    want = np.concatenate([course_convnet.Convolution(w[g * cout:(g + 1) * cout], np.zeros(cout), stride=2, pad=1)
                           .forward(x[:, g * cin:(g + 1) * cin].astype(np.float64)) for g in range(groups)], axis=1)
    np.testing.assert_allclose(np.asarray(got).transpose(TO_NCHW), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="per group"):
        convolution_2d(jnp.zeros((1, 5, 5, 6)), jnp.zeros((3, 3, 2, 4)), groups=2)


def pool(x_nchw, gy_nchw, **params):
    """(y, gx) of course_max_pooling_2d, NCHW in and out, jitted; a fresh jit each call (see jax_conv)."""
    def value_and_vjp(x_nhwc, gy_nhwc):
        y, vjp = jax.vjp(lambda v: course_max_pooling_2d(v, **params), x_nhwc)
        return y, vjp(gy_nhwc.astype(y.dtype))[0]

    y, gx = jax.jit(value_and_vjp)(jnp.asarray(x_nchw.transpose(TO_NHWC)), jnp.asarray(gy_nchw.transpose(TO_NHWC)))
    return np.asarray(y).transpose(TO_NCHW), np.asarray(gx).transpose(TO_NCHW)


@pytest.mark.parametrize("h,w,k,stride", [(24, 24, 2, 2), (7, 9, 2, 2), (9, 8, 3, 3), (8, 7, 3, 2), (6, 6, 2, 1)])
def test_course_pooling_matches_the_book_pooling_layer(h, w, k, stride):
    """pad 0, the only pad the book's Pooling runs with; ties (small integers) test the argmax."""
    rng = np.random.default_rng(h * w + k)
    x = rng.integers(-2, 3, (2, 3, h, w)).astype(np.float32)
    layer = course_convnet.Pooling(k, k, stride=stride)
    y_book = layer.forward(x.astype(np.float64))
    gy = rng.standard_normal(y_book.shape).astype(np.float32)
    y, gx = pool(x, gy, ksize=k, stride=stride)
    np.testing.assert_array_equal(y, y_book)
    np.testing.assert_allclose(gx, layer.backward(gy.astype(np.float64)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k,stride,pad", [(2, 2, 1), (3, 2, 1), (3, 3, 2)])
def test_course_pooling_pads_with_zeros(k, stride, pad):
    """Negative inputs: the book's zero padding wins at the border, where Chainer's -inf does not."""
    rng = np.random.default_rng(k * 10 + pad)
    x = -rng.permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7).astype(np.float32) - 1.0
    layer = course_convnet.Pooling(k, k, stride=stride, pad=pad)  # the book's layer, sized by im2col for pad > 0
    y_ref = layer.forward(x.astype(np.float64))
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    gx_ref = layer.backward(gy.astype(np.float64))
    y, gx = pool(x, gy, ksize=k, stride=stride, pad=pad)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-6)
    chainer = np.asarray(max_pooling_2d(jnp.asarray(x.transpose(TO_NHWC)), k, stride, pad, cover_all=False))
    assert (y == 0).any() and not (chainer == 0).any()


def test_course_pooling_agrees_with_chainer_where_their_rules_meet():
    """pad 0 and cover_all=False: the fixture cases of that kind give Chainer's numbers."""
    cases = [i for i in range(int(POOL["n_cases"])) if POOL[f"case{i}/params"][4] == 0
             and POOL[f"case{i}/params"][5] == 0]
    assert cases
    for i in cases:
        _, _, ksize, stride, _, _ = (int(v) for v in POOL[f"case{i}/params"])
        y, gx = pool(POOL[f"case{i}/x"], POOL[f"case{i}/gy"], ksize=ksize, stride=ksize if stride < 0 else stride)
        np.testing.assert_array_equal(y, POOL[f"case{i}/y"])
        np.testing.assert_allclose(gx, POOL[f"case{i}/gx"], rtol=1e-6, atol=1e-6)


def test_output_sizes_of_the_course_networks():
    # SimpleConvNet: (28 - 5 + 0) / 1 + 1 = 24, pooled 12; DoubleConvNet: (28 - 7 + 2) + 1 = 24, then 24, pooled 12
    assert conv_output_size(28, 5, 1, 0) == 24 and conv_output_size(28, 7, 1, 1) == 24
    assert conv_output_size(24, 3, 1, 1) == 24 and pooling_output_size(24, 2, 2, 0, False) == 12
    # DeepConvNet: 28 -> 28 -> 14 -> 14 -> (14 + 4 - 3) + 1 = 16 -> 8 -> 8 -> 4
    assert conv_output_size(14, 3, 1, 2) == 16 and pooling_output_size(16, 2, 2, 0, False) == 8
    assert pooling_output_size(8, 2, 2, 0, False) == 4
    # odd sizes: the book's floor drops the last row, Chainer's cover_all pools it
    assert pooling_output_size(25, 2, 2, 0, False) == 12 and pooling_output_size(25, 2, 2, 0, True) == 13
    assert conv_output_size(11, 5, 3, 0) == 3  # (11 - 5) / 3 + 1: the last input row is never read
    y = course_max_pooling_2d(jnp.zeros((1, 25, 7, 1)), 2, stride=2)
    assert y.shape == (1, 12, 3, 1)


def test_bad_pooling_inputs_are_named():
    with pytest.raises(ValueError, match="rank 4"):
        course_max_pooling_2d(jnp.ones((4, 4, 1)), 2)
    with pytest.raises(ValueError, match="pad must be >= 0"):
        course_max_pooling_2d(jnp.ones((1, 4, 4, 1)), 2, pad=-1)
    with pytest.raises(ValueError, match="does not fit"):
        course_max_pooling_2d(jnp.ones((1, 2, 2, 1)), 3)
