"""The book's max pooling (common/layers.py Pooling) on NHWC.

The book pools through im2col: the input is zero-padded (np.pad 'constant', where Chainer
pads with -inf), the output has floor((H + 2p - k) / s) + 1 rows (no cover_all), and the
backward pass sends each window's gradient to its np.argmax, the first maximum in row-major
order (as `max_pooling_2d` does).
"""

import jax
import jax.numpy as jnp

from jaxdl import _validate
from jaxdl.nn.pooling import max_pooling_2d


def course_max_pooling_2d(x: jax.Array, ksize: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                          pad: int | tuple[int, int] = 0) -> jax.Array:
    """Book Pooling(pool_h, pool_w, stride=1, pad=0).forward on x (N, H, W, C).

    y[n, i, j, c] = max_{di < kh, dj < kw} xp[n, s*i + di, s*j + dj, c] with xp = x padded by
    `pad` zeros. The book's forward sizes its output as 1 + int((H - pool_h) / stride), without
    the pad, so the book itself only runs with pad=0; with pad > 0 this gives im2col's size.
    ksize and stride must be ints >= 1, pad >= 0 (or pairs), x a float array.
    """
    where = "course_max_pooling_2d"
    _validate.floating(where, "x", x)
    if x.ndim != 4:
        raise ValueError(f"course_max_pooling_2d expects NHWC input of rank 4, (N, H, W, C), got shape {x.shape}")
    _validate.int_pair(where, "ksize", ksize, 1)
    _validate.int_pair(where, "stride", stride, 1)
    ph, pw = _validate.int_pair(where, "pad", pad, 0)
    # book im2col: img = np.pad(input_data, [(0,0), (0,0), (pad, pad), (pad, pad)], 'constant')
    padded = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    return max_pooling_2d(padded, ksize, stride=stride, pad=0, cover_all=False)
