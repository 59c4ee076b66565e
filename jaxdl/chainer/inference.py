"""Chainer-facing evaluation: NCHW NumPy in, NumPy out, gradients keyed as Chainer names them."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.chainer.archs import Arch, ModelState, get_arch
from jaxdl.chainer.convert import to_numpy_chainer
from jaxdl.train.losses import softmax_cross_entropy


def _nhwc(x_nchw: np.ndarray, arch: Arch) -> jax.Array:
    x = np.asarray(x_nchw)
    if x.ndim != 4 or x.shape[1:] != arch.input_chw:
        raise ValueError(f"arch {arch.name!r} takes NCHW input of shape (N, {', '.join(map(str, arch.input_chw))}), "
                         f"got {x.shape}")
    if x.dtype.kind != "f":
        raise ValueError(f"input must be a float array (Chainer feeds float32), got dtype {x.dtype}")
    return jnp.asarray(x.astype(np.float32).transpose(0, 2, 3, 1))


@functools.cache
def _compiled(arch_name: str) -> tuple[Callable, Callable]:
    """Jitted test-mode (logits, loss-and-grads) functions of (params, x_nhwc[, labels])."""
    model = get_arch(arch_name).build()

    def logits(params, x):
        return model.apply({"params": params}, x, train=False)

    def loss(params, x, labels):
        return softmax_cross_entropy(logits(params, x), labels)

    return jax.jit(logits), jax.jit(jax.value_and_grad(loss))


def predict(state: ModelState, x_nchw: np.ndarray) -> np.ndarray:
    """Test-mode logits (N, classes) as float32 NumPy for an NCHW float batch (Chainer's layout)."""
    arch = get_arch(state.arch)
    return np.asarray(_compiled(arch.name)[0](state.params, _nhwc(x_nchw, arch)))


def loss_and_grads(state: ModelState, x_nchw: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Test-mode mean softmax cross-entropy and its parameter gradients.

    The gradients are keyed and laid out as Chainer names them ("conv1/W" as (out, in, kh, kw),
    "fc6/W" as (out, in) with C,H,W columns), so they compare directly to `param.grad`
    after `loss.backward()` in Chainer.
    """
    arch = get_arch(state.arch)
    x = _nhwc(x_nchw, arch)
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be an integer array of shape ({x.shape[0]},), got {labels.dtype} {labels.shape}")
    loss, grads = _compiled(arch.name)[1](state.params, x, jnp.asarray(labels, jnp.int32))
    return float(loss), to_numpy_chainer(grads, arch)
