"""bfloat16 mixed precision: parameters and optimizer state float32, compute bfloat16, LRN, softmax and
loss float32; bf16 AlexNet against float32, and bf16 training tracking float32 on real images (MNIST)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.bench import models
from jaxdl.nn.lrn import local_response_normalization
from jaxdl.train.state import Batch
from jaxdl.train.step import jit_train_step, make_loss_fn

# Tolerances, bf16 against float32 on the same weights and inputs (bfloat16 keeps 8 significant bits,
# a relative rounding of 2^-9 = 0.2% per operation): logits within 2% (relative norm); each layer's
# kernel gradient within 35% relative norm and cosine >= 0.95 (ReLU masks flip where an activation is
# near zero, which moves the early layers' gradients most), the classifier's within 10% and 0.995.
LOGITS_RTOL = 0.02
GRAD_RTOL, GRAD_COSINE = 0.35, 0.95
FC_GRAD_RTOL, FC_GRAD_COSINE = 0.10, 0.995


def relative(a, b) -> float:
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def cosine(a, b) -> float:
    return float(jnp.sum(a * b) / jnp.linalg.norm(a) / jnp.linalg.norm(b))


@pytest.fixture(scope="module")
def alex():
    """{dtype: (test-mode logits, train-mode kernel gradients)} of AlexNet on the same float32 weights
    and batch (one compiled program per dtype), and the bf16 task."""
    bench = models.get("alexnet")
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-0.5, 0.5, (2, 227, 227, 3)).astype(np.float32))  # train_imagenet's scale
    batch = Batch(x, jnp.asarray([3, 7], jnp.int32))
    state = jax.jit(bench.task("float32").init)(jax.random.key(0), x[:1])
    out = {}
    for dtype in ("float32", "bfloat16"):
        task = bench.task(dtype)
        loss_fn = make_loss_fn(task)

        def both(params, task=task, loss_fn=loss_fn):
            logits = task.model.apply({"params": params}, batch.images)
            return logits, jax.grad(lambda p: loss_fn(p, state, batch)[0])(params)

        out[dtype] = jax.jit(both)(state.params)
    return out, bench.task("bfloat16")


def test_bf16_alexnet_keeps_float32_parameters_state_and_logits(alex):
    out, bf16 = alex
    assert bf16.model.dtype == jnp.bfloat16
    bf16_state = jax.eval_shape(bf16.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 227, 227, 3), jnp.float32))
    assert {leaf.dtype for leaf in jax.tree.leaves((bf16_state.params, bf16_state.opt_state))} == {jnp.dtype("float32")}
    logits = out["bfloat16"][0]
    assert logits.dtype == jnp.float32  # softmax and loss run on float32 logits
    assert relative(logits, out["float32"][0]) < LOGITS_RTOL


def test_bf16_alexnet_gradients_track_float32(alex):
    out, _ = alex
    g32, g16 = out["float32"][1], out["bfloat16"][1]
    for layer in g32:
        a, b = g16[layer]["kernel"], g32[layer]["kernel"]
        assert a.dtype == jnp.float32
        rtol, cos = (FC_GRAD_RTOL, FC_GRAD_COSINE) if layer in ("fc7", "fc8") else (GRAD_RTOL, GRAD_COSINE)
        assert relative(a, b) < rtol and cosine(a, b) > cos, layer


def test_lrn_of_bfloat16_computes_in_float32():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, 3, 16)) * 30, jnp.bfloat16)
    y = local_response_normalization(x)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_array_equal(y, local_response_normalization(x.astype(jnp.float32)).astype(jnp.bfloat16))


def mnist_losses(task, input_hwc, images, labels, steps: int, batch: int, size: int | None = None) -> np.ndarray:
    """The training loss of `steps` steps of `task` on consecutive MNIST batches."""
    state = jax.jit(task.init)(jax.random.key(0), jnp.zeros((1, *input_hwc)))
    step = jit_train_step(task)
    losses = []
    for i in range(steps):
        x = images[i * batch:(i + 1) * batch]
        if size is not None:  # digits upscaled to the net's input, grey in all three channels
            x = jnp.tile(jax.image.resize(x, (len(x), size, size, 1), "nearest"), (1, 1, 1, 3)) - 0.5
        state, metrics = step(state, Batch(x, labels[i * batch:(i + 1) * batch]))
        losses.append(float(metrics["loss"]))
    return np.array(losses)


def assert_tracks(bf16: np.ndarray, f32: np.ndarray) -> None:
    """The first 20 steps within 2% of the float32 loss on average (there the two runs are the same
    run up to rounding); after that SGD amplifies rounding differences, so the mean loss of each
    window of 10 steps within 10% of float32's; and float32 learns, so tracking means something."""
    assert np.all(np.isfinite(bf16))
    assert np.mean(np.abs(bf16[:20] - f32[:20])) < 0.02 * np.mean(f32[:20])
    windows16, windows32 = bf16.reshape(-1, 10).mean(axis=1), f32.reshape(-1, 10).mean(axis=1)
    np.testing.assert_array_less(np.abs(windows16 - windows32), 0.10 * windows32)
    assert f32[-10:].mean() < f32[:10].mean()


def test_50_bf16_steps_of_a_convnet_on_mnist_track_float32(mnist_dir):
    from jaxdl import data

    train, _ = data.load("mnist", str(mnist_dir))
    images, labels = jnp.asarray(train.images[:50 * 32]), jnp.asarray(train.labels[:50 * 32])
    bench = models.get("simpleconvnet")
    f32, bf16 = (mnist_losses(bench.task(dtype), bench.input_hwc, images, labels, 50, 32)
                 for dtype in ("float32", "bfloat16"))
    assert_tracks(bf16, f32)


@pytest.mark.slow
def test_50_bf16_steps_of_alexnet_on_mnist_track_float32(mnist_dir):
    from jaxdl import data

    train, _ = data.load("mnist", str(mnist_dir))
    images, labels = jnp.asarray(train.images[:50 * 16]), jnp.asarray(train.labels[:50 * 16])
    bench = models.get("alexnet")  # train_imagenet's AlexNet and MomentumSGD, with MNIST's 10 classes
    tasks = {dtype: dataclasses.replace(bench.task(dtype), model=bench.model(dtype).clone(num_classes=10))
             for dtype in ("float32", "bfloat16")}
    f32, bf16 = (mnist_losses(tasks[dtype], bench.input_hwc, images, labels, 50, 16, size=227)
                 for dtype in ("float32", "bfloat16"))
    assert_tracks(bf16, f32)
