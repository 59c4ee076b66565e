"""jaxdl's ResNet-50 / ResNeXt-50 computed in float64, for tests/test_zoo_float64.py, in a subprocess (so the
rest of the suite keeps JAX's float32 default):

    JAX_ENABLE_X64=1 python -m tests.zoo_float64_worker ARCH OUT.npz

ARCH is resnet50 or resnext50. The model is the registry's (jaxdl.chainer.get_arch(ARCH).build) with
dtype=jnp.float64; its variables are the float32 weights of tests/fixtures/zoo_weights.chainer_weights (as
the Chainer fixtures use them) cast up exactly and converted by jaxdl.chainer.convert.from_chainer (the
modules declare float32 parameters, but apply computes with the float64 values it is given); the input is
zoo_inputs(224, 1) cast up. The loss is what jaxdl.chainer.loss_and_grads computes (heads_loss with Chainer's
softmax_cross_entropy), differentiated by jax.value_and_grad, the gradients keyed and laid out as Chainer's
(jaxdl.chainer.convert.to_chainer). OUT.npz holds, every array float64 (the test checks that too):

    "weights_sha256", "x_sha256": sha256 of the float32 weights (sorted Chainer keys) and input before the cast.
    "test/loss", "test/logits" (2,1000): test mode (running statistics).
    "<mode>/grad_norm" (P,) and "<mode>/grad_samples" (P,64) for mode test and train, rows in sorted Chainer
        key order, sampled at zoo_weights.sample_indices(size, key), as in zoo_<arch>_float64.npz.
    "train/loss"; "train/stat_delta_norm" (S,), "train/stat_delta_samples" (S,64): the running statistics
        after the training forward minus before, sorted avg_mean / avg_var keys; "train/stat/bn1/avg_mean",
        "train/stat/bn1/avg_var": bn1's statistics after it.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.chainer import get_arch
from jaxdl.chainer.convert import chainer_param_shapes, from_chainer, to_chainer
from jaxdl.train.losses import heads_loss, softmax_cross_entropy
from tests.fixtures.digest import sha256
from tests.fixtures.zoo_weights import chainer_weights, sample_indices, zoo_inputs

ARCHS = ("resnet50", "resnext50")


def entries(out: dict, prefix: str, arrays: dict, norm_key: str, samples_key: str) -> None:
    names = sorted(arrays)
    flat = [np.asarray(arrays[k]).ravel() for k in names]
    assert all(a.dtype == np.float64 for a in flat), {k for k, a in zip(names, flat, strict=True) if a.dtype != "f8"}
    out[f"{prefix}/{norm_key}"] = np.array([np.linalg.norm(a) for a in flat])
    out[f"{prefix}/{samples_key}"] = np.stack([a[sample_indices(a.size, k)] for a, k in zip(flat, names, strict=True)])


def compute(arch_name: str) -> dict:
    assert jax.config.jax_enable_x64, "run with JAX_ENABLE_X64=1"
    assert arch_name in ARCHS, arch_name
    arch = get_arch(arch_name)
    weights = chainer_weights(chainer_param_shapes(arch), 0)
    out = {"weights_sha256": np.array(sha256(weights[k] for k in sorted(weights)))}
    weights64 = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype == np.float32}
    params, batch_stats = jax.tree.map(jnp.asarray, from_chainer(weights64, arch))
    x32, labels = zoo_inputs(arch.input_chw[1], 1)
    out["x_sha256"] = np.array(sha256([x32]))
    x = jnp.asarray(x32.astype(np.float64).transpose(0, 2, 3, 1))
    labels = jnp.asarray(labels)
    model = arch.build(dtype=jnp.float64)

    def loss_fn(params, train):
        variables = {"params": params, "batch_stats": batch_stats}
        if train:
            outputs, updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
        else:
            outputs, updates = model.apply(variables, x, train=False), {"batch_stats": batch_stats}
        return heads_loss(model, outputs, labels, softmax_cross_entropy)[0], (outputs, updates["batch_stats"])

    for mode in ("test", "train"):
        (loss, (logits, stats)), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True), static_argnums=1)(
            params, mode == "train")
        assert loss.dtype == logits.dtype == jnp.float64, (loss.dtype, logits.dtype)
        out[f"{mode}/loss"] = np.asarray(loss)
        entries(out, mode, jax.device_get(to_chainer(grads, arch)), "grad_norm", "grad_samples")
        if mode == "test":
            out["test/logits"] = np.asarray(logits)
            continue
        after = {k: np.asarray(v) for k, v in to_chainer(params, arch, jax.device_get(stats)).items()
                 if k.rpartition("/")[2] in ("avg_mean", "avg_var")}
        entries(out, "train", {k: after[k] - weights64[k] for k in after}, "stat_delta_norm", "stat_delta_samples")
        out["train/stat/bn1/avg_mean"], out["train/stat/bn1/avg_var"] = after["bn1/avg_mean"], after["bn1/avg_var"]
    return out


if __name__ == "__main__":
    arch_name, path = sys.argv[1], sys.argv[2]
    np.savez(path, **compute(arch_name))
