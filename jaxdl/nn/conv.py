"""Chainer's Convolution2D on NHWC: explicit stride and padding, HWIO kernel, two lowerings.

    y[n, i, j, o] = b[o] + sum_{di, dj, c} x_pad[n, s*i + di, s*j + dj, c] * K[di, dj, c, o]

with x padded by `pad` zeros on every side and the floor output size of conv_output_size.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxdl.nn.initializers import chainer_lecun_normal
from jaxdl.nn.output_size import conv_output_size

METHODS = ("xla", "im2col")


def convolution_2d(x: jax.Array, kernel: jax.Array, stride: int = 1, pad: int = 0, method: str = "xla") -> jax.Array:
    """The convolution above (no bias), x (N, H, W, C), kernel (kh, kw, C, O).

    method "xla" is lax.conv_general_dilated. "im2col" gathers the kh*kw strided views of
    the padded input into a patch matrix and does one matmul; the same numbers, but on CPU
    much faster for a strided convolution over few input channels (AlexNet's conv1),
    whose filter gradient XLA otherwise computes as a slow dilated convolution.
    """
    if method == "xla":
        return lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if method != "im2col":
        raise ValueError(f"unknown convolution method {method!r}; choose one of {METHODS}")
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
    """Chainer L.Convolution2D(in, features, ksize, stride, pad) for NHWC input.

    Parameters "kernel" (ksize, ksize, in, features), LeCunNormal (untruncated), and "bias"
    (features,), zero, both float32; computes in `dtype`. `method` picks the lowering
    (see convolution_2d).
    """

    features: int
    ksize: int
    stride: int = 1
    pad: int = 0
    method: str = "xla"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", chainer_lecun_normal(), (self.ksize, self.ksize, x.shape[-1], self.features),
                            jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        y = convolution_2d(x.astype(self.dtype), kernel.astype(self.dtype), self.stride, self.pad, self.method)
        return y + bias.astype(self.dtype)
