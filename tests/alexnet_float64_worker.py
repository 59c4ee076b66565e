"""jaxdl's AlexNet computed in float64, for tests/test_alexnet.py, in a subprocess (so the rest of the suite
keeps JAX's float32 default):

    JAX_ENABLE_X64=1 python -m tests.alexnet_float64_worker OUT.npz

The model is the registry's (jaxdl.chainer.get_arch("alex").build) with dtype=jnp.float64; its variables
are the float32 weights of tests/fixtures/alex_weights.chainer_alex_weights(0) (as the Chainer fixtures use
them) cast up exactly and converted by jaxdl.chainer.convert.from_chainer; the input is alex_inputs(1) cast
up; test mode (no dropout). The loss is what jaxdl.chainer.loss_and_grads computes (heads_loss with
Chainer's softmax_cross_entropy), differentiated by jax.value_and_grad, the gradients keyed and laid out as
Chainer's (jaxdl.chainer.convert.to_chainer). OUT.npz holds, every array float64 but the hashes:

    "weights_sha256", "x_sha256": sha256 of the float32 weights (sorted Chainer keys) and input before the cast.
    "loss", "logits" (2,1000), "grad_names" (16,) sorted, "grad_norm" (16,), and "grad/<key>" for every
    Chainer key: the whole gradient.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.chainer import get_arch
from jaxdl.chainer.convert import from_chainer, to_chainer
from jaxdl.train.losses import heads_loss, softmax_cross_entropy
from tests.fixtures.alex_weights import alex_inputs, chainer_alex_weights
from tests.fixtures.digest import sha256


def compute() -> dict:
    assert jax.config.jax_enable_x64, "run with JAX_ENABLE_X64=1"
    arch = get_arch("alex")
    weights = chainer_alex_weights(0)
    names = sorted(weights)
    out = {"weights_sha256": np.array(sha256(weights[k] for k in names))}
    params, _ = jax.tree.map(jnp.asarray, from_chainer({k: v.astype(np.float64) for k, v in weights.items()}, arch))
    x32, labels = alex_inputs(1)
    out["x_sha256"] = np.array(sha256([x32]))
    x = jnp.asarray(x32.astype(np.float64).transpose(0, 2, 3, 1))
    model = arch.build(dtype=jnp.float64)

    def loss_fn(params):
        logits = model.apply({"params": params}, x, train=False)
        return heads_loss(model, logits, jnp.asarray(labels), softmax_cross_entropy)[0], logits

    (loss, logits), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(params)
    assert loss.dtype == logits.dtype == jnp.float64, (loss.dtype, logits.dtype)
    out["loss"], out["logits"] = np.asarray(loss), np.asarray(logits)
    grads = {k: np.asarray(v) for k, v in jax.device_get(to_chainer(grads, arch)).items()}
    assert sorted(grads) == names and all(g.dtype == np.float64 for g in grads.values())
    out["grad_names"] = np.array(names)
    out["grad_norm"] = np.array([np.linalg.norm(grads[k]) for k in names])
    out |= {f"grad/{k}": g for k, g in grads.items()}
    return out


if __name__ == "__main__":
    np.savez(sys.argv[1], **compute())
