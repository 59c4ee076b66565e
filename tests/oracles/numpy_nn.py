"""Straightforward NumPy (float64, explicit loops) versions of the Chainer functions jaxdl ports.

Written from the functions' definitions, not from jaxdl's code: LRN from its formula with a
hand-derived gradient, max pooling by scanning windows, convolution by im2col, all on
Chainer's NCHW layout.
"""

import numpy as np


def lrn(x: np.ndarray, n: int, k: float, alpha: float, beta: float) -> np.ndarray:
    """y_c = x_c * (k + alpha * sum_{|j-c| <= n//2, 0 <= j < C} x_j^2) ** -beta, channel axis 1."""
    x = x.astype(np.float64)
    channels = x.shape[1]
    y = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - n // 2), min(channels, c + n // 2 + 1)
        s = k + alpha * np.sum(x[:, lo:hi] ** 2, axis=1)
        y[:, c] = x[:, c] * s ** -beta
    return y


def lrn_grad(x: np.ndarray, gy: np.ndarray, n: int, k: float, alpha: float, beta: float) -> np.ndarray:
    """d/dx of sum(lrn(x) * gy). With s_c the window sum, dy_c/dx_j = [c == j] s_c^-beta
    - 2 alpha beta x_c x_j s_c^(-beta-1) for j in window(c)."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    channels = x.shape[1]
    window = [(max(0, c - n // 2), min(channels, c + n // 2 + 1)) for c in range(channels)]
    s = np.stack([k + alpha * np.sum(x[:, lo:hi] ** 2, axis=1) for lo, hi in window], axis=1)
    gx = gy * s ** -beta
    for c, (lo, hi) in enumerate(window):
        for j in range(lo, hi):
            gx[:, j] -= 2 * alpha * beta * gy[:, c] * x[:, c] * x[:, j] * s[:, c] ** (-beta - 1)
    return gx


def pooled_size(size: int, k: int, s: int, p: int, cover_all: bool) -> int:
    """Windows of width k at stride s over size + 2p: as many as fit (cover_all=False), or the
    fewest whose union reaches the last padded pixel (cover_all=True)."""
    out = 1
    if cover_all:
        while (out - 1) * s + k < size + 2 * p:
            out += 1
    else:
        while out * s + k <= size + 2 * p:
            out += 1
    return out


def max_pool(x: np.ndarray, gy: np.ndarray | None, k: int, s: int, p: int, cover_all: bool):
    """(y, gx) of max pooling on NCHW with -inf outside the input; gx routes each gy to the first
    maximum of its window in row-major order (None when gy is None)."""
    n, c, h, w = x.shape
    oh, ow = pooled_size(h, k, s, p, cover_all), pooled_size(w, k, s, p, cover_all)
    y = np.empty((n, c, oh, ow))
    gx = np.zeros((n, c, h, w))
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, where = -np.inf, None
                    for di in range(k):
                        for dj in range(k):
                            r, q = i * s + di - p, j * s + dj - p
                            if 0 <= r < h and 0 <= q < w and x[b, ch, r, q] > best:
                                best, where = x[b, ch, r, q], (r, q)
                    y[b, ch, i, j] = best
                    if gy is not None and where is not None:
                        gx[b, ch, where[0], where[1]] += gy[b, ch, i, j]
    return y, (gx if gy is not None else None)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Chainer convolution_2d: x (N, C, H, W), w (O, C, kh, kw) -> (N, O, H', W') via im2col."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    cols = np.empty((n, oh, ow, c, kh, kw))
    for i in range(oh):
        for j in range(ow):
            cols[:, i, j] = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
    y = cols.reshape(n, oh, ow, -1) @ w.reshape(o, -1).T.astype(np.float64) + b
    return y.transpose(0, 3, 1, 2)
