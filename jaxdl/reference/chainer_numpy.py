"""Chainer functions that jaxdl ports, written in float64 NumPy from their definitions with explicit loops.

Independent of jaxdl's code and of the book's im2col layers (`course_convnet`): local response
normalization from its formula with a hand-derived gradient, max pooling by scanning each
window with Chainer's -inf padding and cover_all sizes, and F.dropout's inverted scaling as a
layer for `course_numpy` networks. All on Chainer's NCHW layout.
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


def max_pool(x: np.ndarray, gy: np.ndarray | None, k: int, s: int, p: int,
             cover_all: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(y, gx) of Chainer's max_pooling_2d on NCHW by scanning windows, -inf outside the input; gx
    routes each gy to the first maximum of its window in row-major order (None when gy is None)."""
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


class InvertedDropout:
    """Chainer's F.dropout: train y = x * mask / (1 - ratio); test y = x.

    It takes the course Dropout's `next_mask` protocol, so `MultiLayerNet.set_dropout_masks`
    replays masks drawn elsewhere.
    """

    def __init__(self, ratio: float):
        self.ratio, self.next_mask = ratio, None

    def forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        if not train_flg:
            return x
        self.scale = np.asarray(self.next_mask, np.float64) / (1.0 - self.ratio)
        self.next_mask = None
        return x * self.scale

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.scale


def use_inverted_dropout(net) -> None:
    """Replace every course Dropout layer of a course_numpy.MultiLayerNet by InvertedDropout."""
    for name, layer in net.layers.items():
        if name.startswith("Dropout"):
            net.layers[name] = InvertedDropout(layer.ratio)
