"""Batch normalization with the conventions of the course, Chainer and Flax.

All three normalise with the batch mean and biased batch variance in training,
y = gamma * (x - mean) / sqrt(var + eps) + beta, and with running statistics at test time.
They differ in eps, in the running average's decay, in the running variance's start and in
whether the running variance is fed the biased or the unbiased batch variance.
"""

import functools
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
    """The convention `name` ("course" | "chainer" | "flax"); TypeError / ValueError listing them otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"batch-norm convention must be a str, one of {sorted(CONVENTIONS)}, got {name!r}")
    if name not in CONVENTIONS:
        raise ValueError(f"unknown batch-norm convention {name!r}; choose one of {sorted(CONVENTIONS)}")
    return CONVENTIONS[name]


def batch_sum(v: jax.Array) -> jax.Array:
    """sum_r v[r, f] over every axis but the last, computed as ones @ v[rows, features].

    A matrix-vector product rather than a reduction: for the course's batch of 100 and a few
    dozen features, XLA on CPU runs the product far faster than its YNNPACK reduce fusion of
    the same sum, which made the batch-norm sums a large part of a training step of small
    networks (see the grid benchmark in the README).
    """
    rows = v.size // v.shape[-1]
    return jnp.ones((rows,), v.dtype) @ v.reshape(rows, v.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def normalize_batch(x: jax.Array, gamma: jax.Array, beta: jax.Array, eps: float):
    """(y, mean, var): y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch mean and
    biased batch variance over every axis but the last; the gradient is the book's
    BatchNormalization.backward, its sums taken by `batch_sum` (reverse-mode only)."""
    return _normalize_fwd(x, gamma, beta, eps)[0]


def _normalize_fwd(x, gamma, beta, eps):
    n = x.size // x.shape[-1]
    mean = batch_sum(x) / n
    xc = x - mean
    var = batch_sum(xc * xc) / n
    std = jnp.sqrt(var + eps)
    xn = xc / std
    return (gamma * xn + beta, mean, var), (xc, xn, std, gamma)


def _normalize_bwd(eps, residuals, cotangents):
    # book: dbeta = sum(dout); dgamma = sum(xn * dout); dxn = gamma * dout; dxc = dxn / std;
    # dstd = -sum(dxn * xc / std^2); dvar = 0.5 * dstd / std; dxc += (2 / N) * xc * dvar;
    # dmu = sum(dxc); dx = dxc - dmu / N   (plus the cotangents of the returned mean and var)
    xc, xn, std, gamma = residuals
    dy, dmean, dvar_out = cotangents
    n = xc.size // xc.shape[-1]
    dxn = gamma * dy
    dvar = -0.5 * batch_sum(dxn * xc) / (std * std * std) + dvar_out
    dxc = dxn / std + (2.0 / n) * xc * dvar
    dx = dxc - (batch_sum(dxc) - dmean) / n
    return dx, batch_sum(xn * dy), batch_sum(dy)


normalize_batch.defvjp(_normalize_fwd, _normalize_bwd)


class BatchNorm(nn.Module):
    """Batch normalization over every axis but the last, with a named convention.

    Parameters `gamma` (ones) and `beta` (zeros); running statistics `mean` and `var` in the
    `batch_stats` collection, updated once per training call (not while initialising). In
    training the batch statistics and the gradient come from `normalize_batch`.
    """

    convention: str = "course"

    def __post_init__(self) -> None:
        convention(self.convention)  # an unknown name fails where the layer is built
        super().__post_init__()

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
        if not train:
            return gamma * (x - running_mean.value) / jnp.sqrt(running_var.value + conv.eps) + beta
        y, mean, var = normalize_batch(x, gamma, beta, conv.eps)
        if not self.is_initializing():
            count = x.size // features
            fed_var = var * (count / max(count - 1, 1)) if conv.unbiased_running_var else var
            running_mean.value = conv.decay * running_mean.value + (1 - conv.decay) * mean
            running_var.value = conv.decay * running_var.value + (1 - conv.decay) * fed_var
        return y
