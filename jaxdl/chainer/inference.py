"""Chainer-facing evaluation: NCHW NumPy in, NumPy out, gradients keyed as Chainer names them."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.chainer.archs import Arch, ModelState, get_arch
from jaxdl.chainer.convert import to_numpy_chainer
from jaxdl.train.compile import compiler_options
from jaxdl.train.losses import heads_loss, main_logits, softmax_cross_entropy


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
    """Jitted (test-mode main logits, loss-and-grads) functions of (params, model_state, x_nhwc[, labels, train, rng]),
    compiled with compiler_options("step").

    The loss is the arch's own (jaxdl.train.losses.heads_loss: GoogLeNet's 0.3 * (loss1 + loss2)
    + loss3); in train mode it uses batch statistics and returns the updated model_state too.
    """
    model = get_arch(arch_name).build()

    def logits(params, model_state, x):
        return main_logits(model, model.apply({"params": params, **model_state}, x, train=False))

    def loss(params, model_state, x, labels, train, rng):
        if train:
            rngs = {} if rng is None else {"dropout": rng}
            outputs, updates = model.apply({"params": params, **model_state}, x, train=True, rngs=rngs,
                                           mutable=["batch_stats"])
            model_state = {**model_state, **updates}
        else:
            outputs = model.apply({"params": params, **model_state}, x, train=False)
        return heads_loss(model, outputs, labels, softmax_cross_entropy)[0], model_state

    options = compiler_options("step")
    return (jax.jit(logits, compiler_options=options),
            jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnames="train", compiler_options=options))


def _arch_of(state: ModelState, where: str) -> Arch:
    if not isinstance(state, ModelState):
        raise TypeError(f"{where}: state must be a jaxdl.chainer.ModelState (e.g. from load_npz), "
                        f"got {type(state).__name__}")
    return get_arch(state.arch)


def _num_classes(state: ModelState, arch: Arch) -> int:
    """The size of the arch's classifier (its logits) in `state`."""
    node = state.params
    for part in arch.classifier.split("/"):
        node = node[part]
    return int(np.shape(node["bias"] if "bias" in node else node["kernel"])[-1])


def predict(state: ModelState, x_nchw: np.ndarray) -> np.ndarray:
    """Test-mode logits (N, classes) of the main head (running statistics, no dropout) as float32 NumPy
    for an NCHW float batch (Chainer's layout)."""
    arch = _arch_of(state, "predict")
    return np.asarray(_compiled(arch.name)[0](state.params, state.model_state, _nhwc(x_nchw, arch)))


def loss_and_grads(state: ModelState, x_nchw: np.ndarray, labels: np.ndarray, train: bool = False,
                   rng: jax.Array | None = None, with_state: bool = False):
    """Chainer's loss (the value its forward returns: the mean softmax cross-entropy; GoogLeNet's
    0.3 * (loss1 + loss2) + loss3) and its parameter gradients, as (loss, grads).

    The gradients are keyed and laid out as Chainer names them ("conv1/W" as (out, in, kh, kw),
    "fc6/W" as (out, in) with C,H,W columns, "res2/0/bn1/gamma"), so they compare directly to
    `param.grad` after `loss.backward()` in Chainer.

    train=False is Chainer's test mode (running statistics, no dropout). train=True is its
    training mode: BatchNormalization normalises with the batch's statistics, and the archs
    with dropout (alex, nin, googlenet) need `rng`, a jax.random key: their masks are drawn
    from it as the 'dropout' stream (they cannot equal Chainer's NumPy masks). with_state=True
    returns (loss, grads, state after the forward): its running statistics updated as Chainer's
    BatchNormalization updates avg_mean and avg_var in a training forward.
    """
    arch = _arch_of(state, "loss_and_grads")
    if not isinstance(train, bool):
        raise TypeError(f"loss_and_grads: train must be True or False, got {train!r}")
    if train and arch.dropout and rng is None:
        raise ValueError(f"loss_and_grads: arch {arch.name!r} drops out in train mode: pass rng=jax.random.key(seed), "
                         "the key its dropout masks are drawn from")
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
    (loss, model_state), grads = _compiled(arch.name)[1](state.params, state.model_state, x,
                                                         jnp.asarray(labels, jnp.int32), train, rng)
    result = (float(loss), to_numpy_chainer(grads, arch))
    return (*result, state.replace(model_state=model_state)) if with_state else result
