"""Chainer's max_pooling_2d on NHWC arrays, with its cover_all output size."""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl import _validate
from jaxdl.nn.output_size import pooling_output_size


class _Geometry(NamedTuple):
    kernel: tuple[int, int]
    stride: tuple[int, int]
    out: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]  # -inf rows/columns (before, after); negative crops


def _geometry(shape: tuple[int, ...], ksize, stride, pad, cover_all) -> _Geometry:
    (kh, kw), (sh, sw), (ph, pw) = ksize, stride, pad
    out, padding = [], []
    for size, k, s, p, axis in ((shape[1], kh, sh, ph, 1), (shape[2], kw, sw, pw, 2)):
        o = pooling_output_size(size, k, s, p, cover_all)
        if o < 1:
            raise ValueError(f"max_pooling_2d: window {k} (stride {s}, pad {p}) does not fit input size "
                             f"{size} on axis {axis}; use a smaller ksize or more padding")
        out.append(o)
        # the windows span (o - 1) * s + k padded pixels; Chainer pads p before and the rest after
        padding.append((p, (o - 1) * s + k - size - p))
    return _Geometry((kh, kw), (sh, sw), tuple(out), tuple(padding))


def _window_views(x_padded: jax.Array, geometry: _Geometry):
    """Yield (offset index, strided view) for each window offset (di, dj), row-major."""
    (kh, kw), (sh, sw), (oh, ow), _ = geometry
    n, _, _, c = x_padded.shape
    for di in range(kh):
        for dj in range(kw):
            limit = (n, di + (oh - 1) * sh + 1, dj + (ow - 1) * sw + 1, c)
            yield di * kw + dj, lax.slice(x_padded, (0, di, dj, 0), limit, (1, sh, sw, 1))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool(x: jax.Array, geometry: _Geometry) -> jax.Array:
    return _max_pool_fwd(x, geometry)[0]


def _max_pool_fwd(x, geometry):
    (kh, kw), _, _, ((top, bottom), (left, right)) = geometry
    padded = lax.pad(x, jnp.array(-jnp.inf, x.dtype), ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0)))
    best = argmax = None
    for offset, view in _window_views(padded, geometry):
        if best is None:
            best, argmax = view, jnp.zeros(view.shape, jnp.int8 if kh * kw <= 127 else jnp.int32)
        else:  # strictly greater: the first maximum in row-major order wins, like Chainer's argmax
            better = view > best
            best, argmax = jnp.where(better, view, best), jnp.where(better, offset, argmax)
    return best, (argmax, x.shape)


def _max_pool_bwd(geometry, residuals, gy):
    argmax, shape = residuals
    (kh, kw), (sh, sw), (oh, ow), ((top, bottom), (left, right)) = geometry
    n, h, w, c = shape
    hp, wp = h + top + bottom, w + left + right  # the padded input's size
    gx = jnp.zeros((n, hp, wp, c), gy.dtype)
    zero = jnp.array(0, gy.dtype)
    for di in range(kh):
        for dj in range(kw):  # scatter each window's gradient to its argmax: a strided (interior) pad
            routed = jnp.where(argmax == di * kw + dj, gy, zero)
            gx = gx + lax.pad(routed, zero, ((0, 0, 0), (di, hp - di - (oh - 1) * sh - 1, sh - 1),
                                             (dj, wp - dj - (ow - 1) * sw - 1, sw - 1), (0, 0, 0)))
    # transpose of the forward pad: drop the -inf border (and restore rows it had cropped)
    return (lax.pad(gx, zero, ((0, 0, 0), (-top, -bottom, 0), (-left, -right, 0), (0, 0, 0))),)


_max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


def _first_max(a, b):
    """The larger of two (value, padded flat position) pairs, the earlier position on a tie: so a
    window reduces to its first maximum in row-major order, whatever order XLA combines in."""
    (va, ia), (vb, ib) = a, b
    take_b = (vb > va) | ((vb == va) & (ib < ia))
    return lax.select(take_b, vb, va), lax.select(take_b, ib, ia)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_reduce(x: jax.Array, geometry: _Geometry) -> jax.Array:
    return _max_pool_reduce_fwd(x, geometry)[0]


def _max_pool_reduce_fwd(x, geometry):
    (kh, kw), (sh, sw), _, ((top, bottom), (left, right)) = geometry
    padded = lax.pad(x, jnp.array(-jnp.inf, x.dtype), ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0)))
    _, hp, wp, _ = padded.shape
    position = (lax.broadcasted_iota(jnp.int32, padded.shape, 1) * wp
                + lax.broadcasted_iota(jnp.int32, padded.shape, 2))  # row-major position in the padded plane
    best, argmax = lax.reduce_window((padded, position), (jnp.array(-jnp.inf, x.dtype), jnp.array(hp * wp, jnp.int32)),
                                     _first_max, (1, kh, kw, 1), (1, sh, sw, 1), "VALID")
    return best, (argmax, x.shape)


def _max_pool_reduce_bwd(geometry, residuals, gy):
    argmax, shape = residuals
    _, _, _, ((top, bottom), (left, right)) = geometry
    n, h, w, c = shape
    hp, wp = h + top + bottom, w + left + right
    zero = jnp.array(0, gy.dtype)
    # one scatter-add of each window's gradient to its argmax in the padded plane
    rows = argmax.reshape(n, -1, c)
    flat = jnp.zeros((n, hp * wp, c), gy.dtype).at[
        jnp.arange(n)[:, None, None], rows, jnp.arange(c)[None, None, :]].add(gy.reshape(n, -1, c))
    gx = flat.reshape(n, hp, wp, c)
    return (lax.pad(gx, zero, ((0, 0, 0), (-top, -bottom, 0), (-left, -right, 0), (0, 0, 0))),)


_max_pool_reduce.defvjp(_max_pool_reduce_fwd, _max_pool_reduce_bwd)


UNROLLED_MAX_WINDOW = 64  # kh * kw up to this: the unrolled strided views (fast under jit); above: reduce_window


def _pool_fn(geometry: _Geometry):
    """The pooling of `geometry`: unrolled views for small windows, one variadic reduce_window above
    UNROLLED_MAX_WINDOW, so that the program's size never grows past that of an 8x8 window."""
    (kh, kw) = geometry.kernel
    return _max_pool if kh * kw <= UNROLLED_MAX_WINDOW else _max_pool_reduce


@functools.partial(jax.jit, static_argnums=1)
def _pool_jit(x: jax.Array, geometry: _Geometry) -> jax.Array:
    # one compiled program per shape and geometry: eagerly, each view would be compiled on its own
    return _pool_fn(geometry)(x, geometry)


def max_pooling_2d(x: jax.Array, ksize: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                   pad: int | tuple[int, int] = 0, cover_all: bool = True) -> jax.Array:
    """Chainer F.max_pooling_2d for x of shape (N, H, W, C), a floating dtype.

    ksize and stride are ints >= 1 (or (h, w) pairs), stride None means stride = ksize, pad
    ints >= 0; anything else raises TypeError / ValueError naming the argument. Output sizes
    follow `pooling_output_size`; the input is padded with -inf by `pad` on the top/left and
    as much as the last window needs on the bottom/right (with cover_all it may hang over
    the edge, as in Chainer's im2col).
    The gradient goes to the first maximum of each window in row-major order, like
    Chainer's argmax. Implemented as an elementwise max over the kh*kw strided views of the
    padded input, with the argmax kept for the backward pass: XLA fuses both into a few
    passes, far faster on CPU than reduce_window and its select-and-scatter gradient.
    Windows of more than UNROLLED_MAX_WINDOW pixels use one reduce_window over (value,
    position) pairs and a scatter-add instead (the same values and gradient for non-NaN
    input), so neither the work of tracing and compiling nor an eager call grows with the
    window.
    """
    where = "max_pooling_2d"
    _validate.floating(where, "x", x)
    if x.ndim != 4:
        raise ValueError(f"max_pooling_2d expects NHWC input of rank 4, (N, H, W, C), got shape {tuple(x.shape)}")
    kernel = _validate.int_pair(where, "ksize", ksize, 1)
    strides = kernel if stride is None else _validate.int_pair(where, "stride", stride, 1)
    pads = _validate.int_pair(where, "pad", pad, 0)
    if not isinstance(cover_all, bool | np.bool_):
        raise TypeError(f"{where}: cover_all must be True or False, got {cover_all!r}")
    return _pool_jit(x, _geometry(x.shape, kernel, strides, pads, bool(cover_all)))


def average_pooling_2d(x: jax.Array, ksize: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                       pad: int | tuple[int, int] = 0) -> jax.Array:
    """Chainer F.average_pooling_2d for x of shape (N, H, W, C), a floating dtype.

        y[n, i, j, c] = (1 / (kh * kw)) * sum_{di < kh, dj < kw} x_pad[n, s*i + di, s*j + dj, c]

    with x_pad the input padded by `pad` zeros on every side and the floor output size
    floor((H + 2p - k) / s) + 1 (Chainer has no cover_all for average pooling). The padding
    zeros count in the mean: a window hanging over the edge still divides by kh * kw
    (Chainer's im2col mean on CPU, its GPU kernel's coeff 1 / (kh * kw), cuDNN's
    COUNT_INCLUDE_PADDING; PyTorch's count_include_pad=True). The gradient spreads each
    window's gradient / (kh * kw) over its pixels. stride None means stride = ksize; ksize,
    stride ints >= 1 and pad >= 0 (or pairs), else TypeError / ValueError naming the argument.
    """
    where = "average_pooling_2d"
    _validate.floating(where, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{where} expects NHWC input of rank 4, (N, H, W, C), got shape {tuple(x.shape)}")
    (kh, kw) = _validate.int_pair(where, "ksize", ksize, 1)
    (sh, sw) = (kh, kw) if stride is None else _validate.int_pair(where, "stride", stride, 1)
    (ph, pw) = _validate.int_pair(where, "pad", pad, 0)
    for axis, size, k, s, p in ((1, x.shape[1], kh, sh, ph), (2, x.shape[2], kw, sw, pw)):
        if pooling_output_size(size, k, s, p, cover_all=False) < 1:
            raise ValueError(f"{where}: window {k} (stride {s}, pad {p}) does not fit input size {size} on axis "
                             f"{axis}; use a smaller ksize or more padding")
    summed = lax.reduce_window(x, np.zeros((), x.dtype), lax.add, (1, kh, kw, 1), (1, sh, sw, 1),
                               ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    return summed * jnp.asarray(1.0 / (kh * kw), x.dtype)
