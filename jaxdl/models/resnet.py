"""Chainer's ResNet-50 and ResNeXt-50 (examples/imagenet/resnet50.py, resnext50.py) as Flax modules.

Submodules carry Chainer's link names, so the parameter tree mirrors Chainer's keys:
res2/0/conv1 is block res2's first bottleneck (BottleNeckA, with the projection shortcut
conv4/bn4), res2/1 ... its BottleNeckBs. Convolutions have no bias (but conv1, the stem's),
HeNormal weights; every BatchNormalization is Chainer's (eps 2e-5, decay 0.9, unbiased
running variance). resnet50_nhwc (ResNet50_Nhwc, cuDNN's channel-last layout) is the same
network: jaxdl computes NHWC anyway.
"""

from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.alexnet import check_input
from jaxdl.models.googlenet import chainer_batch_norm, linear
from jaxdl.nn.conv import Convolution2D
from jaxdl.nn.initializers import chainer_he_normal
from jaxdl.nn.pooling import average_pooling_2d, max_pooling_2d


class BlockSpec(NamedTuple):
    """Block(layer, in_size, ch, out_size, stride, groups) of the examples."""

    name: str
    layers: int
    ch: int
    out_size: int
    stride: int


RESNET50_BLOCKS = (BlockSpec("res2", 3, 64, 256, 1), BlockSpec("res3", 4, 128, 512, 2),
                   BlockSpec("res4", 6, 256, 1024, 2), BlockSpec("res5", 3, 512, 2048, 2))
RESNEXT50_BLOCKS = (BlockSpec("res2", 3, 128, 256, 1), BlockSpec("res3", 4, 256, 512, 2),
                    BlockSpec("res4", 6, 512, 1024, 2), BlockSpec("res5", 3, 1024, 2048, 2))


class BottleNeck(nn.Module):
    """BottleNeckA (project=True) or BottleNeckB of the examples.

    conv1 1x1 -> bn1 -> ReLU -> conv2 3x3 pad 1 (groups) -> bn2 -> ReLU -> conv3 1x1 -> bn3,
    plus the shortcut (A: conv4 1x1 with the block's stride -> bn4; B: the input), -> ReLU.
    The stride of A sits on conv1 in resnet50.py and on conv2 in resnext50.py (stride_on_3x3).
    """

    ch: int
    out_size: int
    stride: int = 1
    groups: int = 1
    project: bool = False
    stride_on_3x3: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        def conv_bn(h, features, ksize, stride, k, groups=1):
            h = Convolution2D(features, ksize, stride, ksize // 2, dtype=self.dtype, use_bias=False, groups=groups,
                              kernel_init=chainer_he_normal(), name=f"conv{k}")(h)
            return chainer_batch_norm(f"bn{k}")(h, train).astype(self.dtype)

        stride1, stride2 = (1, self.stride) if self.stride_on_3x3 else (self.stride, 1)
        h = nn.relu(conv_bn(x, self.ch, 1, stride1, 1))
        h = nn.relu(conv_bn(h, self.ch, 3, stride2, 2, self.groups))
        h = conv_bn(h, self.out_size, 1, 1, 3)
        shortcut = conv_bn(x, self.out_size, 1, self.stride, 4) if self.project else x
        return nn.relu(h + shortcut)


class Block(nn.Module):
    """The examples' Block (a ChainList): BottleNeckA as child "0", then BottleNeckBs "1", "2", ..."""

    spec: BlockSpec
    groups: int = 1
    stride_on_3x3: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h: jax.Array, train: bool) -> jax.Array:
        for i in range(self.spec.layers):
            h = BottleNeck(self.spec.ch, self.spec.out_size, self.spec.stride if i == 0 else 1, self.groups,
                           project=i == 0, stride_on_3x3=self.stride_on_3x3, dtype=self.dtype, name=str(i))(h, train)
        return h


class ResNet(nn.Module):
    """The examples' ResNet50 / ResNeXt50 on NHWC input (N, 224, 224, 3); returns float32 logits (see below).

    conv1 7x7/2 pad 3 (with bias) -> bn1 -> ReLU -> max pool 3/2 (cover_all, 56x56); blocks
    res2-res5 of bottlenecks; average pool 7/1 (1x1x2048); fc. BatchNormalization uses batch
    statistics when train=True (the `batch_stats` collection updated), running ones otherwise.
    The logits are float32 for dtype float32 and narrower (bfloat16, float16), float64 for dtype
    float64 (with float64 variables, under JAX_ENABLE_X64: tests/zoo_float64_worker.py).
    """

    blocks: tuple[BlockSpec, ...] = RESNET50_BLOCKS
    groups: int = 1
    stride_on_3x3: bool = False
    num_classes: int = 1000
    dtype: Any = jnp.float32
    insize: ClassVar[int] = 224

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        check_input(x, self.insize, type(self).__name__)
        h = Convolution2D(64, 7, 2, 3, dtype=self.dtype, kernel_init=chainer_he_normal(), name="conv1")(
            x.astype(self.dtype))
        h = max_pooling_2d(nn.relu(chainer_batch_norm("bn1")(h, train).astype(self.dtype)), 3, stride=2)
        for block in self.blocks:
            h = Block(block, self.groups, self.stride_on_3x3, self.dtype, name=block.name)(h, train)
        h = average_pooling_2d(h, 7, stride=1)
        logits = linear(self.num_classes, "fc", self.dtype)(h.reshape(h.shape[0], -1))
        return logits.astype(jnp.promote_types(self.dtype, jnp.float32))


class ResNet50(ResNet):
    """resnet50.py's ResNet50: 25,557,096 parameters for 1000 classes."""


class ResNeXt50(ResNet):
    """resnext50.py's ResNeXt50: twice the bottleneck width in 32 groups, stride on the 3x3
    convolution; 25,028,968 parameters for 1000 classes."""

    blocks: tuple[BlockSpec, ...] = RESNEXT50_BLOCKS
    groups: int = 32
    stride_on_3x3: bool = True
