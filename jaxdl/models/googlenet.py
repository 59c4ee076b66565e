"""Chainer's GoogLeNet and GoogLeNetBN (examples/imagenet/googlenet.py, googlenetbn.py) as Flax modules.

Both have two auxiliary classifiers. Their __call__ returns the logits of the three heads,
{"loss1": auxiliary head 1, "loss2": auxiliary head 2, "loss3": the main head} (keyed by the
name Chainer reports each head's loss under), and `total_loss` says how the example combines
the heads' softmax cross-entropies into the loss it returns and trains on, in test mode too:
0.3 * (loss1 + loss2) + loss3. Accuracy is the main head's (MAIN_HEAD); see
jaxdl.train.losses.heads_loss, which the train steps and jaxdl.chainer use.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.alexnet import check_input
from jaxdl.nn.batchnorm import BatchNorm
from jaxdl.nn.conv import Convolution2D
from jaxdl.nn.initializers import chainer_lecun_normal
from jaxdl.nn.lrn import local_response_normalization
from jaxdl.nn.pooling import average_pooling_2d, max_pooling_2d

MAIN_HEAD = "loss3"
AUX_WEIGHT = 0.3


def googlenet_total_loss(head_losses: Mapping[str, jax.Array]) -> jax.Array:
    """GoogLeNet.forward's (and GoogLeNetBN's) loss = 0.3 * (loss1 + loss2) + loss3."""
    return AUX_WEIGHT * (head_losses["loss1"] + head_losses["loss2"]) + head_losses["loss3"]


def linear(features: int, name: str, dtype: Any, use_bias: bool = True) -> nn.Dense:
    """Chainer L.Linear(None, features[, nobias]): LeCunNormal (untruncated) weights, zero bias.
    On a feature map it reads the flattened map (jaxdl flattens H, W, C; Chainer C, H, W)."""
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=jnp.float32,
                    kernel_init=chainer_lecun_normal(), bias_init=nn.initializers.zeros, name=name)


def flatten(h: jax.Array) -> jax.Array:
    return h.reshape(h.shape[0], -1)


class Inception(nn.Module):
    """Chainer L.Inception(None, out1, proj3, out3, proj5, out5, proj_pool).

    Four paths concatenated on channels, then ReLU: conv1 1x1; proj3 1x1 -> ReLU -> conv3 3x3
    pad 1; proj5 1x1 -> ReLU -> conv5 5x5 pad 2; max pool 3/1 pad 1 (cover_all) -> projp 1x1.
    """

    out1: int
    proj3: int
    out3: int
    proj5: int
    out5: int
    proj_pool: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def conv(features, ksize, pad, name):
            return Convolution2D(features, ksize, pad=pad, dtype=self.dtype, name=name)

        out1 = conv(self.out1, 1, 0, "conv1")(x)
        out3 = conv(self.out3, 3, 1, "conv3")(nn.relu(conv(self.proj3, 1, 0, "proj3")(x)))
        out5 = conv(self.out5, 5, 2, "conv5")(nn.relu(conv(self.proj5, 1, 0, "proj5")(x)))
        pool = conv(self.proj_pool, 1, 0, "projp")(max_pooling_2d(x, 3, stride=1, pad=1))
        return nn.relu(jnp.concatenate((out1, out3, out5, pool), axis=-1))


class GoogLeNet(nn.Module):
    """Chainer's GoogLeNet on NHWC input (N, 224, 224, 3); returns float32 logits of its three heads.

    conv1 7x7/2 pad 3 -> ReLU -> max pool 3/2 -> LRN; conv2_reduce 1x1 -> ReLU; conv2 3x3 pad 1
    -> ReLU -> LRN -> pool 3/2; inc3a, inc3b, pool 3/2, inc4a; [auxiliary head 1]; inc4b-d;
    [auxiliary head 2]; inc4e, pool 3/2, inc5a, inc5b; average pool 7/1; dropout 0.4; loss3_fc.
    An auxiliary head: average pool 5/3 (14x14 -> 4x4) -> lossK_conv 1x1 (128) -> ReLU ->
    lossK_fc1 (1024) -> ReLU -> lossK_fc2 (num_classes). Max pooling cover_all, LRN Chainer's
    defaults (n=5), dropout only when train=True (the 'dropout' rng); LeCunNormal weights, zero
    biases: 13,378,280 parameters for 1000 classes. dtype is the computation dtype.
    """

    num_classes: int = 1000
    dtype: Any = jnp.float32
    insize: ClassVar[int] = 224
    main_head: ClassVar[str] = MAIN_HEAD
    total_loss: ClassVar = staticmethod(googlenet_total_loss)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> dict[str, jax.Array]:
        check_input(x, self.insize, "GoogLeNet")
        dt = self.dtype

        def conv(features, ksize, name, stride=1, pad=0):
            return Convolution2D(features, ksize, stride, pad, dtype=dt, name=name)

        h = nn.relu(conv(64, 7, "conv1", 2, 3)(x.astype(dt)))
        h = local_response_normalization(max_pooling_2d(h, 3, stride=2), n=5)
        h = nn.relu(conv(64, 1, "conv2_reduce")(h))
        h = nn.relu(conv(192, 3, "conv2", 1, 1)(h))
        h = max_pooling_2d(local_response_normalization(h, n=5), 3, stride=2)
        h = Inception(64, 96, 128, 16, 32, 32, dt, name="inc3a")(h)
        h = Inception(128, 128, 192, 32, 96, 64, dt, name="inc3b")(h)
        h = max_pooling_2d(h, 3, stride=2)
        h = Inception(192, 96, 208, 16, 48, 64, dt, name="inc4a")(h)
        heads = {"loss1": self._aux(h, "loss1", conv)}
        h = Inception(160, 112, 224, 24, 64, 64, dt, name="inc4b")(h)
        h = Inception(128, 128, 256, 24, 64, 64, dt, name="inc4c")(h)
        h = Inception(112, 144, 288, 32, 64, 64, dt, name="inc4d")(h)
        heads["loss2"] = self._aux(h, "loss2", conv)
        h = Inception(256, 160, 320, 32, 128, 128, dt, name="inc4e")(h)
        h = max_pooling_2d(h, 3, stride=2)
        h = Inception(256, 160, 320, 32, 128, 128, dt, name="inc5a")(h)
        h = Inception(384, 192, 384, 48, 128, 128, dt, name="inc5b")(h)
        h = average_pooling_2d(h, 7, stride=1)
        h = nn.Dropout(0.4, deterministic=not train)(flatten(h))
        heads["loss3"] = linear(self.num_classes, "loss3_fc", dt)(h)
        return {name: logits.astype(jnp.float32) for name, logits in heads.items()}

    def _aux(self, h: jax.Array, name: str, conv) -> jax.Array:
        a = average_pooling_2d(h, 5, stride=3)
        a = nn.relu(conv(128, 1, f"{name}_conv")(a))
        a = nn.relu(linear(1024, f"{name}_fc1", self.dtype)(flatten(a)))
        return linear(self.num_classes, f"{name}_fc2", self.dtype)(a)


def chainer_batch_norm(name: str) -> BatchNorm:
    """Chainer L.BatchNormalization(size): eps 2e-5, decay 0.9, unbiased running variance."""
    return BatchNorm("chainer", name=name)


class InceptionBN(nn.Module):
    """Chainer L.InceptionBN(None, out1, proj3, out3, proj33, out33, pooltype, proj_pool, stride).

    Paths concatenated on channels, every convolution without bias and followed by its
    BatchNormalization and ReLU: conv1 1x1 (if out1 > 0); proj3 1x1 -> conv3 3x3 pad 1
    (stride); proj33 1x1 -> conv33a 3x3 pad 1 -> conv33b 3x3 pad 1 (stride); pooling 3x3 pad 1
    (stride): "max" without cover_all, or "avg" (padding counted), then poolp 1x1 if proj_pool.
    """

    out1: int
    proj3: int
    out3: int
    proj33: int
    out33: int
    pooltype: str
    proj_pool: int | None = None
    stride: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        def conv_bn_relu(h, features, ksize, name, norm, stride=1):
            h = Convolution2D(features, ksize, stride, ksize // 2, dtype=self.dtype, use_bias=False, name=name)(h)
            return nn.relu(chainer_batch_norm(norm)(h, train).astype(self.dtype))

        outs = []
        if self.out1 > 0:
            outs.append(conv_bn_relu(x, self.out1, 1, "conv1", "conv1n"))
        h3 = conv_bn_relu(x, self.proj3, 1, "proj3", "proj3n")
        outs.append(conv_bn_relu(h3, self.out3, 3, "conv3", "conv3n", self.stride))
        h33 = conv_bn_relu(x, self.proj33, 1, "proj33", "proj33n")
        h33 = conv_bn_relu(h33, self.out33, 3, "conv33a", "conv33an")
        outs.append(conv_bn_relu(h33, self.out33, 3, "conv33b", "conv33bn", self.stride))
        if self.pooltype == "max":
            p = max_pooling_2d(x, 3, stride=self.stride, pad=1, cover_all=False)
        else:
            p = average_pooling_2d(x, 3, stride=self.stride, pad=1)
        if self.proj_pool is not None:
            p = conv_bn_relu(p, self.proj_pool, 1, "poolp", "poolpn")
        outs.append(p)
        return jnp.concatenate(outs, axis=-1)


# GoogLeNetBN.__init__: L.InceptionBN(None, out1, proj3, out3, proj33, out33, pooltype, proj_pool[, stride])
INCEPTION_BN = {
    "inc3a": (64, 64, 64, 64, 96, "avg", 32),
    "inc3b": (64, 64, 96, 64, 96, "avg", 64),
    "inc3c": (0, 128, 160, 64, 96, "max", None, 2),
    "inc4a": (224, 64, 96, 96, 128, "avg", 128),
    "inc4b": (192, 96, 128, 96, 128, "avg", 128),
    "inc4c": (160, 128, 160, 128, 160, "avg", 128),
    "inc4d": (96, 128, 192, 160, 192, "avg", 128),
    "inc4e": (0, 128, 192, 192, 256, "max", None, 2),
    "inc5a": (352, 192, 320, 160, 224, "avg", 128),
    "inc5b": (352, 192, 320, 192, 224, "max", 128),
}


class GoogLeNetBN(nn.Module):
    """Chainer's GoogLeNetBN on NHWC input (N, 224, 224, 3); returns float32 logits of its three heads.

    conv1 7x7/2 pad 3 (no bias) -> norm1 -> ReLU -> max pool 3/2 pad 1 (cover_all); conv2 3x3
    pad 1 -> norm2 -> ReLU -> pool 3/2 pad 1; inc3a-c, inc4a; [auxiliary head a]; inc4b-d;
    [auxiliary head b]; inc4e, inc5a, inc5b; average pool 7 (8x8 -> 1x1); out. An auxiliary
    head: average pool 5/3 (15x15 -> 4x4) -> conv{a,b} 1x1 (128, no bias) -> norm{a,b} -> ReLU
    -> lin{a,b} (1024, no bias) -> norm{a,b}2 -> ReLU -> out{a,b}. BatchNormalization is
    Chainer's (eps 2e-5, decay 0.9, unbiased running variance; batch statistics when
    train=True, the `batch_stats` collection updated); no dropout. LeCunNormal weights:
    17,681,464 parameters for 1000 classes.
    """

    num_classes: int = 1000
    dtype: Any = jnp.float32
    insize: ClassVar[int] = 224
    main_head: ClassVar[str] = MAIN_HEAD
    total_loss: ClassVar = staticmethod(googlenet_total_loss)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> dict[str, jax.Array]:
        check_input(x, self.insize, "GoogLeNetBN")
        dt = self.dtype

        def conv_bn_relu(h, features, ksize, name, norm, stride=1, pad=0):
            h = Convolution2D(features, ksize, stride, pad, dtype=dt, use_bias=False, name=name)(h)
            return nn.relu(chainer_batch_norm(norm)(h, train).astype(dt))

        def inception(h, name):
            return InceptionBN(*INCEPTION_BN[name], dtype=dt, name=name)(h, train)

        h = max_pooling_2d(conv_bn_relu(x.astype(dt), 64, 7, "conv1", "norm1", 2, 3), 3, stride=2, pad=1)
        h = max_pooling_2d(conv_bn_relu(h, 192, 3, "conv2", "norm2", 1, 1), 3, stride=2, pad=1)
        for name in ("inc3a", "inc3b", "inc3c", "inc4a"):
            h = inception(h, name)
        heads = {"loss1": self._aux(h, "a", conv_bn_relu, train)}
        for name in ("inc4b", "inc4c", "inc4d"):
            h = inception(h, name)
        heads["loss2"] = self._aux(h, "b", conv_bn_relu, train)
        for name in ("inc4e", "inc5a", "inc5b"):
            h = inception(h, name)
        h = average_pooling_2d(h, 7)
        heads["loss3"] = linear(self.num_classes, "out", dt)(flatten(h))
        return {name: logits.astype(jnp.float32) for name, logits in heads.items()}

    def _aux(self, h: jax.Array, k: str, conv_bn_relu, train: bool) -> jax.Array:
        a = conv_bn_relu(average_pooling_2d(h, 5, stride=3), 128, 1, f"conv{k}", f"norm{k}")
        a = linear(1024, f"lin{k}", self.dtype, use_bias=False)(flatten(a))
        a = nn.relu(chainer_batch_norm(f"norm{k}2")(a, train).astype(self.dtype))
        return linear(self.num_classes, f"out{k}", self.dtype)(a)
