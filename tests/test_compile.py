"""jaxdl.train.compile: programs compiled with its options keep the numbers (NumPy oracle)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.conv import convolution_2d
from jaxdl.train.compile import YNNPACK_DOTS_AND_REDUCTIONS, YNNPACK_FUSIONS, accepted_options, compiler_options


def numpy_conv(x, kernel, stride, pad):
    """y[n, i, j, o] = sum_{di, dj, c} x_pad[n, s*i + di, s*j + dj, c] * K[di, dj, c, o], in float64."""
    kh, kw, _, out = kernel.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], oh, ow, out))
    for di in range(kh):
        for dj in range(kw):
            view = xp[:, di:di + stride * (oh - 1) + 1:stride, dj:dj + stride * (ow - 1) + 1:stride]
            y += view @ kernel[di, dj].astype(np.float64)
    return y


def numpy_filter_grad(x, gy, kernel_shape, stride, pad):
    """dK[di, dj, c, o] = sum_{n, i, j} x_pad[n, s*i + di, s*j + dj, c] * gy[n, i, j, o]."""
    kh, kw, _, _ = kernel_shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = gy.shape[1:3]
    grad = np.zeros(kernel_shape)
    for di in range(kh):
        for dj in range(kw):
            view = xp[:, di:di + stride * (oh - 1) + 1:stride, dj:dj + stride * (ow - 1) + 1:stride]
            grad[di, dj] = np.einsum("nijc,nijo->co", view, gy.astype(np.float64))
    return grad


@pytest.mark.parametrize("kind", ["runs", "step"])
@pytest.mark.parametrize("method", ["xla", "im2col"])
@pytest.mark.parametrize("stride,pad,ksize", [(4, 0, 11), (1, 2, 5), (1, 1, 3)])
def test_convolution_and_filter_gradient_compiled_with_the_options_match_numpy(kind, method, stride, pad, ksize):
    rng = np.random.default_rng(ksize)
    size = 23 if stride == 4 else 9
    x = rng.standard_normal((2, size, size, 3)).astype(np.float32)
    kernel = rng.standard_normal((ksize, ksize, 3, 5)).astype(np.float32)

    def value_and_filter_grad(x, kernel, gy):
        y, vjp = jax.vjp(lambda k: convolution_2d(x, k, stride, pad, method), kernel)
        return y, vjp(gy)[0]

    y_ref = numpy_conv(x, kernel, stride, pad)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    compiled = jax.jit(value_and_filter_grad).lower(x, kernel, gy).compile(compiler_options=compiler_options(kind))
    y, grad = compiled(x, kernel, gy)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grad, numpy_filter_grad(x, gy, kernel.shape, stride, pad), rtol=1e-5, atol=1e-4)


# --- the two kinds of program and their options ------------------------------------------------------------------


def test_compiler_options_per_kind_and_platform():
    runs, step = compiler_options("runs"), compiler_options("step")
    if jax.default_backend() == "cpu":
        assert runs[YNNPACK_FUSIONS] == ""  # every YNNPACK fusion off: batch-invariant kernels
        assert step[YNNPACK_FUSIONS] == YNNPACK_DOTS_AND_REDUCTIONS  # YNNPACK convolutions off
        assert step["xla_cpu_copy_insertion_use_region_analysis"] is True
    assert compiler_options("runs", "gpu") == {} and compiler_options("step", "tpu") == {}
    with pytest.raises(ValueError, match=r"kind must be one of \('runs', 'step'\), got 'train'"):
        compiler_options("train")


def test_options_this_jaxlib_rejects_are_left_out():
    assert accepted_options({"xla_no_such_option": 1}) == {}
    assert accepted_options({YNNPACK_FUSIONS: "LIBRARY_FUSION_TYPE_NO_SUCH_KIND"}) == {}
    assert accepted_options({"xla_backend_optimization_level": 1}) == {"xla_backend_optimization_level": 1}
    mixed = {"xla_no_such_option": 1, "xla_backend_optimization_level": 1}  # one rejected: probed one by one
    assert accepted_options(mixed) == {"xla_backend_optimization_level": 1}


def sgd_runs(weights, images, labels, steps=60, learning_rate=0.5):
    """`steps` full-batch SGD steps of a ReLU MLP (784-40-20-10, softmax cross-entropy) for each
    run's weights on its own data (as each course seed draws its own batches), vmapped over the
    leading runs axis; the per-step losses of every run."""
    def loss(w, x, y):
        h = jax.nn.relu(x @ w["w1"] + w["b1"])
        h = jax.nn.relu(h @ w["w2"] + w["b2"])
        logits = h @ w["w3"] + w["b3"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    def run(w, x, y):
        def step(w, _):
            value, grads = jax.value_and_grad(loss)(w, x, y)
            return jax.tree.map(lambda p, g: p - learning_rate * g, w, grads), value
        return jax.lax.scan(step, w, None, length=steps)[1]

    return jax.vmap(run)(weights, images, labels)


def test_a_run_in_a_runs_program_does_not_depend_on_how_many_runs_share_it():
    """Run 0's losses are bit for bit the same alone and among 4 runs (each on its own data): what
    makes `--devices 4` equal `--devices 1` in the course experiments (4 runs on one device
    against 1 per device). With XLA's default CPU options (YNNPACK dots) they differ."""
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.random((4, 100, 784), dtype=np.float32))
    labels = jnp.asarray(rng.integers(0, 10, (4, 100)).astype(np.int32))
    sizes = [(784, 40), (40, 20), (20, 10)]
    weights = {f"w{i + 1}": jnp.asarray(rng.standard_normal((4, *s), dtype=np.float32) / np.sqrt(s[0]))
               for i, s in enumerate(sizes)}
    weights |= {f"b{i + 1}": jnp.zeros((4, s[1]), jnp.float32) for i, s in enumerate(sizes)}
    program = jax.jit(sgd_runs)
    options = compiler_options("runs")
    together = program.lower(weights, images, labels).compile(compiler_options=options)(weights, images, labels)
    first = jax.tree.map(lambda w: w[:1], (weights, images, labels))
    alone = program.lower(*first).compile(compiler_options=options)(*first)
    assert np.isfinite(np.asarray(alone)).all() and float(alone[0, -1]) < float(alone[0, 0])  # it trains
    np.testing.assert_array_equal(np.asarray(together[0]), np.asarray(alone[0]))
