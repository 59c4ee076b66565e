"""jaxdl.train.compile: programs compiled with its options keep the numbers (NumPy oracle)."""

import jax
import numpy as np
import pytest

from jaxdl.nn.conv import convolution_2d
from jaxdl.train.compile import compiler_options


def numpy_conv(x, kernel, stride, pad):
    """y[n, i, j, o] = sum_{di, dj, c} x_pad[n, s*i + di, s*j + dj, c] * K[di, dj, c, o], in float64."""
    kh, kw, _, out = kernel.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], oh, ow, out))
    for di in range(kh):
        for dj in range(kw):
            view = xp[:, di:di + stride * (oh - 1) + 1:stride, dj:dj + stride * (ow - 1) + 1:stride]
            y += view @ kernel[di, dj].astype(np.float64)
    return y


def numpy_filter_grad(x, gy, kernel_shape, stride, pad):
    """dK[di, dj, c, o] = sum_{n, i, j} x_pad[n, s*i + di, s*j + dj, c] * gy[n, i, j, o]."""
    kh, kw, _, _ = kernel_shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = gy.shape[1:3]
    grad = np.zeros(kernel_shape)
    for di in range(kh):
        for dj in range(kw):
            view = xp[:, di:di + stride * (oh - 1) + 1:stride, dj:dj + stride * (ow - 1) + 1:stride]
            grad[di, dj] = np.einsum("nijc,nijo->co", view, gy.astype(np.float64))
    return grad


@pytest.mark.parametrize("method", ["xla", "im2col"])
@pytest.mark.parametrize("stride,pad,ksize", [(4, 0, 11), (1, 2, 5), (1, 1, 3)])
def test_convolution_and_filter_gradient_compiled_with_the_options_match_numpy(method, stride, pad, ksize):
    rng = np.random.default_rng(ksize)
    size = 23 if stride == 4 else 9
    x = rng.standard_normal((2, size, size, 3)).astype(np.float32)
    kernel = rng.standard_normal((ksize, ksize, 3, 5)).astype(np.float32)

    def value_and_filter_grad(x, kernel, gy):
        y, vjp = jax.vjp(lambda k: convolution_2d(x, k, stride, pad, method), kernel)
        return y, vjp(gy)[0]

    y_ref = numpy_conv(x, kernel, stride, pad)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    compiled = jax.jit(value_and_filter_grad).lower(x, kernel, gy).compile(compiler_options=compiler_options())
    y, grad = compiled(x, kernel, gy)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grad, numpy_filter_grad(x, gy, kernel.shape, stride, pad), rtol=1e-5, atol=1e-4)
