"""Checks that need several (virtual CPU) devices, run by tests/test_parallel.py in a subprocess:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m tests.parallel_worker NAME OUT.json

Each check computes the same thing on one device and on a mesh of four and writes the largest
differences it found to OUT.json; the test asserts on them (the oracle is the one-device run).
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np


def relative_error(a, b) -> float:
    """||a - b|| / ||b|| in float64 (0 when both are 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale else float(np.linalg.norm(a))


def alexnet_step() -> dict:
    """Chainer's Alex, one train step on a global batch of 8: loss, every gradient and every updated
    parameter on 4 devices (batch split, state replicated) against the one-device step."""
    import jaxdl.optim
    from jaxdl import parallel
    from jaxdl.data.synthetic import synthetic_images
    from jaxdl.models.alexnet import AlexNet
    from jaxdl.train.state import Batch, Task
    from jaxdl.train.step import jit_train_step, make_loss_fn

    task = Task(AlexNet(), jaxdl.optim.create("chainer:momentum", learning_rate=0.01, momentum=0.9), loss="chainer")
    images, labels = synthetic_images(8, 227, 227, 3, 1000, seed=0)
    state = jax.jit(task.init)(jax.random.key(0), jnp.zeros((1, 227, 227, 3)))
    state = jax.device_get(state._replace(rng=jax.random.key_data(state.rng)))  # host copy to place twice
    loss_fn = make_loss_fn(task)

    def gradients(mesh):
        placed = parallel.put_replicated(mesh, state._replace(rng=jax.random.wrap_key_data(state.rng)))
        batch = Batch(*parallel.global_batch(mesh, (images, labels), 8))
        value_and_grad = jax.jit(jax.value_and_grad(lambda p, s, b: loss_fn(p, s, b)[0]),
                                 in_shardings=(parallel.replicated(mesh), parallel.replicated(mesh),
                                               parallel.batch_sharding(mesh)))
        loss, grads = value_and_grad(placed.params, placed, batch)
        next_state, metrics = jit_train_step(task, mesh)(placed, batch)
        return jax.device_get((loss, grads, next_state.params, metrics["loss"]))

    one, four = gradients(parallel.data_mesh(1)), gradients(parallel.data_mesh(4))
    names = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(one[1])]
    return {
        "devices": jax.device_count(),
        "loss": relative_error(four[0], one[0]),
        "step_loss": relative_error(four[3], one[3]),
        "gradients": dict(zip(names, map(relative_error, jax.tree.leaves(four[1]), jax.tree.leaves(one[1])),
                              strict=True)),
        "params": dict(zip(names, map(relative_error, jax.tree.leaves(four[2]), jax.tree.leaves(one[2])),
                           strict=True)),
        "params_changed": float(max(relative_error(a, b) for a, b in zip(
            jax.tree.leaves(one[2]), jax.tree.leaves(state.params), strict=True))),
    }


CHECKS = {"alexnet_step": alexnet_step}

if __name__ == "__main__":
    name, out = sys.argv[1], sys.argv[2]
    with open(out, "w") as f:
        json.dump(CHECKS[name](), f)
