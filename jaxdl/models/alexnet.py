"""Chainer's single-tower AlexNet (examples/imagenet/alex.py, class Alex) as a Flax module."""

from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.conv import Convolution2D
from jaxdl.nn.initializers import chainer_lecun_normal
from jaxdl.nn.lrn import local_response_normalization
from jaxdl.nn.pooling import max_pooling_2d


class ConvSpec(NamedTuple):
    name: str
    features: int
    ksize: int
    stride: int
    pad: int
    lrn: bool  # ReLU -> LRN before the pooling (blocks 1-2)
    pool: bool  # max_pooling_2d(ksize 3, stride 2, cover_all) after the block
    method: str = "xla"  # lowering of the convolution (same numbers; see jaxdl.nn.conv)


# Alex.__init__: L.Convolution2D(None, out, ksize, stride=..., pad=...), pads explicit.
ALEX_CONVS = (
    ConvSpec("conv1", 96, 11, 4, 0, lrn=True, pool=True),
    ConvSpec("conv2", 256, 5, 1, 2, lrn=True, pool=True),
    ConvSpec("conv3", 384, 3, 1, 1, lrn=False, pool=False),
    ConvSpec("conv4", 384, 3, 1, 1, lrn=False, pool=False),
    ConvSpec("conv5", 256, 3, 1, 1, lrn=False, pool=True),
)
ALEX_HIDDEN = (("fc6", 4096), ("fc7", 4096))  # L.Linear(None, 4096) -> ReLU -> dropout 0.5
DROPOUT_RATIO = 0.5


def check_input(x: Any, insize: int, model: str = "AlexNet") -> None:
    """ValueError / TypeError unless x is a batch of (N, insize, insize, 3) NHWC float images."""
    wanted = f"{model} takes (N, {insize}, {insize}, 3) NHWC float images"
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"{wanted}, got {type(x).__name__}")
    shape = tuple(x.shape)
    if len(shape) != 4 or shape[1:] != (insize, insize, 3):
        hint = ""
        if len(shape) == 4 and shape[1:] == (3, insize, insize):
            hint = "; that looks NCHW (Chainer's layout): transpose it with x.transpose(0, 2, 3, 1)"
        elif len(shape) == 4 and shape[3] == 3:
            hint = f"; crop or resize the images to {insize}x{insize} (train_imagenet crops 256x256 to {insize})"
        elif len(shape) == 3:
            hint = "; add the batch axis, e.g. x[None]"
        raise ValueError(f"{wanted}, got shape {shape}{hint}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{wanted}, got dtype {x.dtype}; cast it first, e.g. x.astype(jnp.float32)")


class AlexNet(nn.Module):
    """Chainer's Alex on NHWC input (N, 227, 227, 3); returns float32 logits (N, num_classes).

    conv1 11x11/4 -> ReLU -> LRN -> pool 3/2; conv2 5x5 pad 2 -> ReLU -> LRN -> pool 3/2;
    conv3-4 3x3 pad 1 -> ReLU; conv5 3x3 pad 1 -> ReLU -> pool 3/2 (6x6x256);
    flatten (H, W, C order) -> fc6 -> ReLU -> dropout -> fc7 -> ReLU -> dropout -> fc8.
    Pooling is Chainer's cover_all max pooling, LRN Chainer's (n=5, k=2, alpha=1e-4,
    beta=0.75), dropout inverted with ratio 0.5 and active only when train=True (it draws
    from the 'dropout' rng). Weights start LeCunNormal (untruncated), biases zero: 62,378,344
    parameters for 1000 classes.

    Any other input shape or a non-float dtype raises ValueError / TypeError saying so (an
    NCHW batch is told to transpose). dtype is the computation dtype (e.g. jnp.bfloat16);
    parameters stay float32. Chainer
    flattens pool5 in C, H, W order, so its fc6 weights need a row permutation to be used
    here (jaxdl.chainer does it).
    """

    num_classes: int = 1000
    dtype: Any = jnp.float32
    insize: ClassVar[int] = 227

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        check_input(x, self.insize)
        h = x.astype(self.dtype)
        for spec in ALEX_CONVS:
            h = Convolution2D(spec.features, spec.ksize, spec.stride, spec.pad, spec.method, self.dtype,
                              name=spec.name)(h)
            h = nn.relu(h)
            if spec.lrn:
                h = local_response_normalization(h)
            if spec.pool:
                h = max_pooling_2d(h, 3, stride=2)
        h = h.reshape(h.shape[0], -1)
        for name, features in ALEX_HIDDEN:
            h = nn.relu(self._dense(features, name)(h))
            h = nn.Dropout(DROPOUT_RATIO, deterministic=not train)(h)
        return self._dense(self.num_classes, "fc8")(h).astype(jnp.promote_types(self.dtype, jnp.float32))

    def _dense(self, features: int, name: str) -> nn.Dense:
        return nn.Dense(features, dtype=self.dtype, param_dtype=jnp.float32,
                        kernel_init=chainer_lecun_normal(), bias_init=nn.initializers.zeros, name=name)
