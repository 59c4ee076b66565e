"""Batch normalization with the conventions of the course, Chainer and Flax.

All three normalise with the batch mean and biased batch variance in training,
y = gamma * (x - mean) / sqrt(var + eps) + beta, and with running statistics at test time.
They differ in eps, in the running average's decay, in the running variance's start and in
whether the running variance is fed the biased or the unbiased batch variance.
"""

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchNormConvention(NamedTuple):
    eps: float
    decay: float  # running = decay * running + (1 - decay) * batch
    initial_var: float
    unbiased_running_var: bool


CONVENTIONS = {
    # Book/course BatchNormalization: sqrt(var + 10e-7), momentum 0.9, running mean/var start at 0.
    "course": BatchNormConvention(eps=1e-6, decay=0.9, initial_var=0.0, unbiased_running_var=False),
    # Chainer L.BatchNormalization: eps 2e-5, decay 0.9, avg_var starts at 1 and takes var * m / (m - 1).
    "chainer": BatchNormConvention(eps=2e-5, decay=0.9, initial_var=1.0, unbiased_running_var=True),
    # flax.linen.BatchNorm defaults: epsilon 1e-5, momentum 0.99, var starts at 1.
    "flax": BatchNormConvention(eps=1e-5, decay=0.99, initial_var=1.0, unbiased_running_var=False),
}


def convention(name: str) -> BatchNormConvention:
    if name not in CONVENTIONS:
        raise ValueError(f"unknown batch-norm convention {name!r}; choose one of {sorted(CONVENTIONS)}")
    return CONVENTIONS[name]


class BatchNorm(nn.Module):
    """Batch normalization over every axis but the last, with a named convention.

    Parameters `gamma` (ones) and `beta` (zeros); running statistics `mean` and `var` in the
    `batch_stats` collection, updated once per training call (not while initialising).
    """

    convention: str = "course"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        conv = convention(self.convention)
        features = x.shape[-1]
        gamma = self.param("gamma", nn.initializers.ones, (features,), jnp.float32)
        beta = self.param("beta", nn.initializers.zeros, (features,), jnp.float32)
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        running_var = self.variable(
            "batch_stats", "var", lambda: jnp.full((features,), conv.initial_var, jnp.float32)
        )
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = jnp.mean(x, axis=axes)
            var = jnp.mean(jnp.square(x - mean), axis=axes)
            if not self.is_initializing():
                count = x.size // features
                fed_var = var * (count / max(count - 1, 1)) if conv.unbiased_running_var else var
                running_mean.value = conv.decay * running_mean.value + (1 - conv.decay) * mean
                running_var.value = conv.decay * running_var.value + (1 - conv.decay) * fed_var
        else:
            mean, var = running_mean.value, running_var.value
        return gamma * (x - mean) / jnp.sqrt(var + conv.eps) + beta
