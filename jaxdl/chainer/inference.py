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
    if x.ndim != 4 or x.shape[1:] != arch.input_chw or x.shape[0] < 1:
        c, h, w = arch.input_chw
        hint = ("; that looks NHWC: transpose it with x.transpose(0, 3, 1, 2)"
                if x.ndim == 4 and x.shape[1:] == (h, w, c) else "")
        raise ValueError(f"arch {arch.name!r} takes NCHW input of shape (N, {', '.join(map(str, arch.input_chw))}) "
                         f"with N >= 1, got x of shape {x.shape}{hint}")
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


def _arch_of(state: ModelState, where: str) -> Arch:
    if not isinstance(state, ModelState):
        raise TypeError(f"{where}: state must be a jaxdl.chainer.ModelState (e.g. from load_npz), "
                        f"got {type(state).__name__}")
    return get_arch(state.arch)


def _num_classes(state: ModelState, arch: Arch) -> int:
    """The size of the arch's last layer (the logits) in `state`."""
    return int(np.shape(state.params[arch.links[-1].name]["bias"])[0])


def predict(state: ModelState, x_nchw: np.ndarray) -> np.ndarray:
    """Test-mode logits (N, classes) as float32 NumPy for an NCHW float batch (Chainer's layout)."""
    arch = _arch_of(state, "predict")
    return np.asarray(_compiled(arch.name)[0](state.params, _nhwc(x_nchw, arch)))


def loss_and_grads(state: ModelState, x_nchw: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Test-mode mean softmax cross-entropy and its parameter gradients.

    The gradients are keyed and laid out as Chainer names them ("conv1/W" as (out, in, kh, kw),
    "fc6/W" as (out, in) with C,H,W columns), so they compare directly to `param.grad`
    after `loss.backward()` in Chainer.
    """
    arch = _arch_of(state, "loss_and_grads")
    x = _nhwc(x_nchw, arch)
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be an integer array of shape ({x.shape[0]},), got {labels.dtype} {labels.shape}")
    classes = _num_classes(state, arch)
    outside = np.flatnonzero((labels < 0) | (labels >= classes))
    if outside.size:
        i = int(outside[0])
        raise ValueError(f"labels must be class indices in [0, {classes}) for arch {arch.name!r}, got labels[{i}] = "
                         f"{labels[i]} ({outside.size} out of range; Chainer's ignore_label -1 is not supported)")
    loss, grads = _compiled(arch.name)[1](state.params, x, jnp.asarray(labels, jnp.int32))
    return float(loss), to_numpy_chainer(grads, arch)
