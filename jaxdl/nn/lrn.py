"""Chainer's cross-channel local response normalisation (F.local_response_normalization).

    y_c = x_c * (k + alpha * sum_{j=c-n//2}^{c+n//2} x_j^2) ** -beta

The sum runs over the channels inside [0, C) only (the window is clipped at the edges,
which equals zero padding). Two Chainer conventions differ from Caffe/PyTorch/ONNX:
alpha is not divided by n, and the window is symmetric with half-width n//2, so an even n
covers n + 1 channels (Chainer's CPU code; its GPU kernel covers n).
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import _validate


def window_sum(v: jax.Array, half_width: int) -> jax.Array:
    """s_c = sum_{|j-c| <= half_width, 0 <= j < C} v_j over the last axis.

    2 * half_width + 1 shifted slices of the zero-padded array, added elementwise (XLA fuses
    them into one pass; no per-channel loop, no matmul).
    """
    channels = v.shape[-1]
    padded = jnp.pad(v, [(0, 0)] * (v.ndim - 1) + [(half_width, half_width)])
    return sum(lax.slice_in_dim(padded, shift, shift + channels, axis=-1) for shift in range(2 * half_width + 1))


def _power_minus(unit: jax.Array, beta: float) -> jax.Array:
    """unit ** -beta; for AlexNet's beta = 0.75 as rsqrt(unit * sqrt(unit)), which avoids exp/log."""
    if beta == 0.75:
        return lax.rsqrt(unit * jnp.sqrt(unit))
    return unit ** -beta


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _lrn_last_axis(x: jax.Array, n: int, k: float, alpha: float, beta: float) -> jax.Array:
    return _lrn_fwd(x, n, k, alpha, beta)[0]


def _lrn_fwd(x, n, k, alpha, beta):
    # Chainer: unit = k + alpha * sum_part; scale = unit ** -beta; y = x * scale
    unit = k + alpha * window_sum(x * x, n // 2)
    scale = _power_minus(unit, beta)
    return x * scale, (x, unit, scale)


def _lrn_bwd(n, k, alpha, beta, residuals, gy):
    # Chainer backward_cpu: gx = gy * scale - 2 * alpha * beta * x * window_sum(y * gy / unit)
    x, unit, scale = residuals
    y = x * scale
    return (gy * scale - (2 * alpha * beta) * x * window_sum(y * gy / unit, n // 2),)


_lrn_last_axis.defvjp(_lrn_fwd, _lrn_bwd)


def local_response_normalization(x: jax.Array, n: int = 5, k: float = 2.0, alpha: float = 1e-4,
                                 beta: float = 0.75, axis: int = -1) -> jax.Array:
    """Chainer F.local_response_normalization over `axis` (the channel axis; -1 for NHWC).

    Differentiable with Chainer's closed-form gradient (no power is differentiated) and
    jit-friendly. Computes in at least float32 and returns x's dtype, which must be a floating
    one (as Chainer's type check requires). n is an int >= 1; k > 0 and alpha >= 0 keep the
    base k + alpha * sum x^2 positive (its power -beta is finite); beta is a finite number.
    Other values raise TypeError / ValueError naming the argument.
    """
    where = "local_response_normalization"
    _validate.floating(where, "x", x)
    if x.ndim < 1:
        raise ValueError(f"{where}: x must have a channel axis, got a scalar")
    n = _validate.integer(where, "n", n, minimum=1)
    _validate.real(where, "k", k, low=0.0, low_open=True)
    _validate.real(where, "alpha", alpha, low=0.0)
    _validate.real(where, "beta", beta)
    axis = _validate.integer(where, "axis", axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for x of shape {tuple(x.shape)}")
    compute = jnp.promote_types(x.dtype, jnp.float32)
    moved = jnp.moveaxis(x, axis, -1).astype(compute)
    y = _lrn_last_axis(moved, int(n), float(k), float(alpha), float(beta))
    return jnp.moveaxis(y, -1, axis).astype(x.dtype)
