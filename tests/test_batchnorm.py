"""jaxdl.nn.batchnorm: the batch sums and the training normalization's gradient against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn.batchnorm import batch_sum, normalize_batch

EPS = 1e-6


@pytest.mark.parametrize("shape", [(7, 3), (2, 5, 4), (100, 40)])
def test_batch_sum_sums_every_axis_but_the_last(shape):
    v = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(batch_sum(jnp.asarray(v)), v.reshape(-1, shape[-1]).sum(axis=0), rtol=1e-5, atol=1e-5)


def numpy_objective(x, gamma, beta, a, b, c):
    """sum(y * a) + sum(mean * b) + sum(var * c) of the batch normalization, in float64."""
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    y = gamma * (x - mean) / np.sqrt(var + EPS) + beta
    return (y * a).sum() + (mean * b).sum() + (var * c).sum()


def central_differences(f, arrays, index, h=1e-6):
    grad = np.zeros_like(arrays[index])
    for i in np.ndindex(grad.shape):
        up = [v.copy() for v in arrays]
        down = [v.copy() for v in arrays]
        up[index][i] += h
        down[index][i] -= h
        grad[i] = (f(*up) - f(*down)) / (2 * h)
    return grad


def test_gradient_through_output_mean_and_var_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)) * 2 + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    a, b, c = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4)

    def objective(x, gamma, beta):
        y, mean, var = normalize_batch(x, gamma, beta, EPS)
        return jnp.sum(y * a) + jnp.sum(mean * b) + jnp.sum(var * c)

    grads = jax.grad(objective, argnums=(0, 1, 2))(*(jnp.asarray(v, jnp.float32) for v in (x, gamma, beta)))
    arrays = [x, gamma, beta, a, b, c]
    for index, grad in enumerate(grads):
        np.testing.assert_allclose(grad, central_differences(numpy_objective, arrays, index), rtol=1e-4, atol=1e-4)
