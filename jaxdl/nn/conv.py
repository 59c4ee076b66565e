"""Chainer's Convolution2D on NHWC: explicit stride and padding, HWIO kernel, groups, two lowerings.

    y[n, i, j, o] = b[o] + sum_{di, dj, c} x_pad[n, s*i + di, s*j + dj, g(o)*C/G + c] * K[di, dj, c, o]

with x padded by `pad` zeros on every side, the floor output size of conv_output_size, and
with G groups output channel o reading input channels of its group g(o) = o // (O/G) only
(c < C/G; Chainer's `groups`, ResNeXt's grouped 3x3 convolutions).
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import _validate
from jaxdl.nn.initializers import chainer_lecun_normal
from jaxdl.nn.output_size import conv_output_size

METHODS = ("xla", "im2col")


def convolution_2d(x: jax.Array, kernel: jax.Array, stride: int = 1, pad: int = 0, method: str = "xla",
                   groups: int = 1) -> jax.Array:
    """The convolution above (no bias), x (N, H, W, C), kernel (kh, kw, C / groups, O).

    method "xla" is lax.conv_general_dilated. "im2col" gathers the kh*kw strided views of
    the padded input into a patch matrix and does one matmul; the same numbers to float32
    rounding. Which is faster depends on XLA's CPU kernels: with its default YNNPACK
    convolutions, im2col is much faster for a strided convolution over few input channels,
    whose filter gradient YNNPACK computes as a slow dilated convolution; with XLA's own
    convolutions (jaxdl.train.compile's "step" options) "xla" is faster for AlexNet's conv1
    (results/BENCHMARKS.md).

    stride must be an int >= 1, pad an int >= 0, groups an int >= 1 dividing C and O ("xla"
    only), x and kernel float arrays of rank 4 with matching channels and a kernel that fits the
    padded input; else TypeError / ValueError.
    """
    where = "convolution_2d"
    _validate.floating(where, "x", x)
    _validate.floating(where, "kernel", kernel)
    stride = _validate.integer(where, "stride", stride, minimum=1)
    pad = _validate.integer(where, "pad", pad, minimum=0)
    _validate.choice(where, "method", method, METHODS)
    groups = _validate.integer(where, "groups", groups, minimum=1)
    if groups > 1 and method != "xla":
        raise ValueError(f"{where}: groups > 1 needs method 'xla', got {method!r}")
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"{where} takes x (N, H, W, C) NHWC and kernel (kh, kw, C, O) HWIO, got x of shape "
                         f"{tuple(x.shape)} and kernel of shape {tuple(kernel.shape)}")
    if x.shape[3] != kernel.shape[2] * groups or kernel.shape[3] % groups:
        raise ValueError(f"{where}: x has {x.shape[3]} channels (shape {tuple(x.shape)}, NHWC) but the kernel "
                         f"takes {kernel.shape[2]} per group (shape {tuple(kernel.shape)}, HWIO) in {groups} group(s)")
    for axis, size, k in ((1, x.shape[1], kernel.shape[0]), (2, x.shape[2], kernel.shape[1])):
        if conv_output_size(size, k, stride, pad) < 1:
            raise ValueError(f"{where}: the {k}-wide kernel does not fit x's axis {axis} of size {size} "
                             f"with pad {pad}; use a smaller kernel or more padding")
    if method == "xla":
        return lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
    kh, kw, c, o = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    views = [lax.slice(padded, (0, di, dj, 0), (n, di + (oh - 1) * stride + 1, dj + (ow - 1) * stride + 1, c),
                       (1, stride, stride, 1))
             for di in range(kh) for dj in range(kw)]
    patches = jnp.concatenate(views, axis=-1).reshape(n * oh * ow, kh * kw * c)  # columns in (di, dj, c) order
    return (patches @ kernel.reshape(kh * kw * c, o)).reshape(n, oh, ow, o)


class Convolution2D(nn.Module):
    """Chainer L.Convolution2D(in, features, ksize, stride, pad, nobias, initialW, groups) for NHWC input.

    Parameters "kernel" (ksize, ksize, in / groups, features), drawn by `kernel_init` (default
    Chainer's LeCunNormal, untruncated), and unless use_bias=False (Chainer's nobias=True)
    "bias" (features,), zero, both float32; computes in `dtype`. `method` picks the lowering
    (see convolution_2d).
    """

    features: int
    ksize: int
    stride: int = 1
    pad: int = 0
    method: str = "xla"
    dtype: jnp.dtype = jnp.float32
    use_bias: bool = True
    groups: int = 1
    kernel_init: Callable = chainer_lecun_normal()

    def __post_init__(self) -> None:
        _validate.integer("Convolution2D", "features", self.features, minimum=1)
        _validate.integer("Convolution2D", "ksize", self.ksize, minimum=1)
        _validate.integer("Convolution2D", "groups", self.groups, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init,
                            (self.ksize, self.ksize, x.shape[-1] // self.groups, self.features), jnp.float32)
        y = convolution_2d(x.astype(self.dtype), kernel.astype(self.dtype), self.stride, self.pad, self.method,
                           self.groups)
        if not self.use_bias:
            return y
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        return y + bias.astype(self.dtype)
