"""Max pooling the book's way, through im2col and col2im, with the output size im2col gives.

The book's Pooling.forward sizes its output as 1 + int((H - pool_h) / stride), ignoring the
pad (so it fails for pad > 0); this oracle takes im2col's (H + 2 * pad - pool_h) // stride + 1
and is otherwise the book's forward and backward, on NCHW float64 arrays.
"""

import numpy as np

from jaxdl.reference.course_convnet import col2im, im2col


def im2col_max_pool(x: np.ndarray, gy: np.ndarray | None, k: int, s: int, pad: int):
    """(y, gx): y the max of each zero-padded window, gx each gy routed to its window's np.argmax."""
    n, c, h, w = x.shape
    out_h, out_w = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    col = im2col(x.astype(np.float64), k, k, s, pad).reshape(-1, k * k)
    arg_max = np.argmax(col, axis=1)
    y = np.max(col, axis=1).reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)
    if gy is None:
        return y, None
    dmax = np.zeros((arg_max.size, k * k))
    dmax[np.arange(arg_max.size), arg_max] = gy.transpose(0, 2, 3, 1).flatten()
    return y, col2im(dmax.reshape(n * out_h * out_w, -1), x.shape, k, k, s, pad)
