"""Chainer's Network in Network (examples/imagenet/nin.py, class NIN) as a Flax module."""

from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.alexnet import check_input
from jaxdl.nn.conv import Convolution2D
from jaxdl.nn.initializers import chainer_he_normal
from jaxdl.nn.pooling import average_pooling_2d, max_pooling_2d

# NIN.__init__: L.MLPConvolution2D(None, out_channels, ksize, stride, pad, conv_init=I.HeNormal())
NIN_MLPCONVS = (  # (name, out_channels of its convolutions, ksize, stride, pad)
    ("mlpconv1", (96, 96, 96), 11, 4, 0),
    ("mlpconv2", (256, 256, 256), 5, 1, 2),
    ("mlpconv3", (384, 384, 384), 3, 1, 1),
    ("mlpconv4", (1024, 1024, 1000), 3, 1, 1),
)
DROPOUT_RATIO = 0.5  # F.dropout(h) before mlpconv4


class MLPConvolution2D(nn.Module):
    """Chainer L.MLPConvolution2D(None, out_channels, ksize, stride, pad, conv_init=HeNormal()).

    A ksize x ksize convolution then 1x1 convolutions, ReLU between them and none after the
    last; its convolutions are the submodules "0", "1", ... (Chainer's ChainList children),
    biases zero.
    """

    out_channels: tuple[int, ...]
    ksize: int
    stride: int = 1
    pad: int = 0
    method: str = "xla"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, features in enumerate(self.out_channels):
            if i:
                x = nn.relu(x)
            first = i == 0
            x = Convolution2D(features, self.ksize if first else 1, self.stride if first else 1,
                              self.pad if first else 0, self.method if first else "xla", self.dtype,
                              kernel_init=chainer_he_normal(), name=str(i))(x)
        return x


class NIN(nn.Module):
    """Chainer's NIN on NHWC input (N, 227, 227, 3); returns float32 logits (N, num_classes).

    mlpconv1 (11x11/4) -> ReLU -> max pool 3/2; mlpconv2 (5x5 pad 2) -> ReLU -> pool 3/2;
    mlpconv3 (3x3 pad 1) -> ReLU -> pool 3/2 (6x6x384); dropout 0.5; mlpconv4 (3x3 pad 1,
    its last 1x1 convolution has num_classes outputs) -> average pool 6 (1x1) -> logits.
    Max pooling is Chainer's cover_all one, dropout inverted and active only when train=True
    (the 'dropout' rng). Weights HeNormal (untruncated), biases zero: 7,595,176 parameters
    for 1000 classes. dtype is the computation dtype; parameters stay float32.
    """

    num_classes: int = 1000
    dtype: Any = jnp.float32
    insize: ClassVar[int] = 227

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        check_input(x, self.insize, "NIN")
        h = x.astype(self.dtype)
        for name, channels, ksize, stride, pad in NIN_MLPCONVS:
            if name == "mlpconv4":
                h = nn.Dropout(DROPOUT_RATIO, deterministic=not train)(h)
                channels = (*channels[:-1], self.num_classes)
            # mlpconv1 (3 input channels, stride 4) as im2col: in NIN's CPU step no slower than "xla"
            method = "im2col" if name == "mlpconv1" else "xla"
            h = MLPConvolution2D(channels, ksize, stride, pad, method, self.dtype, name=name)(h)
            if name != "mlpconv4":
                h = max_pooling_2d(nn.relu(h), 3, stride=2)
        h = average_pooling_2d(h, 6)
        return h.reshape(h.shape[0], self.num_classes).astype(jnp.float32)
