"""Every jaxdl.optim optimizer under jit, vmap, optax.inject_hyperparams, and in bfloat16."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl.optim
from jaxdl.reference.optimizers import DEFAULTS

SPECS = sorted(DEFAULTS)
STEPS = 3


def _required(spec: str) -> dict[str, float]:
    """Hyperparameters the reference has no default for (optax: learning_rate, momentum)."""
    values = {"learning_rate": 0.05, "momentum": 0.9}
    return {k: values[k] for k, v in DEFAULTS[spec].items() if v is None}


def _problem(seed: int, dtype=jnp.float32, batch: tuple[int, ...] = ()):
    key = jax.random.PRNGKey(seed)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {"w": jax.random.normal(k1, (*batch, 3, 4)), "b": jax.random.normal(k2, (*batch, 5))}
    grads = [
        {"w": jax.random.normal(k, (*batch, 3, 4)), "b": 1e-2 * jax.random.normal(j, (*batch, 5))}
        for k, j in zip(jax.random.split(k3, STEPS), jax.random.split(k4, STEPS), strict=True)
    ]
    cast = lambda tree: jax.tree.map(lambda x: x.astype(dtype), tree)  # noqa: E731
    return cast(params), [cast(g) for g in grads]


def _run(tx, params, grads, update=None):
    update = update or tx.update
    state = tx.init(params)
    steps = []
    for g in grads:
        u, state = update(g, state, params)
        params = optax.apply_updates(params, u)
        steps.append(u)
    return params, steps, state


@pytest.mark.parametrize("spec", SPECS)
def test_jit_matches_eager(spec):
    tx = jaxdl.optim.create(spec, **_required(spec))
    params, grads = _problem(0)
    eager, _, _ = _run(tx, params, grads)
    jitted, _, _ = _run(tx, params, grads, update=jax.jit(tx.update))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), jitted, eager)


@pytest.mark.parametrize("spec", SPECS)
def test_vmap_over_a_batch_of_param_trees(spec):
    tx = jaxdl.optim.create(spec, **_required(spec))
    params, grads = _problem(1, batch=(3,))
    state = jax.vmap(tx.init)(params)
    batched = params
    for g in grads:
        u, state = jax.vmap(tx.update)(g, state, batched)
        batched = optax.apply_updates(batched, u)
    for i in range(3):
        member = lambda tree: jax.tree.map(lambda x: x[i], tree)  # noqa: E731, B023
        alone, _, _ = _run(tx, member(params), [member(g) for g in grads])
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), member(batched), alone)


@pytest.mark.parametrize("spec", SPECS)
def test_vmap_over_learning_rates(spec):
    params, grads = _problem(2)
    rest = {k: v for k, v in _required(spec).items() if k != "learning_rate"}

    def final_params(learning_rate):
        return _run(jaxdl.optim.create(spec, learning_rate=learning_rate, **rest), params, grads)[0]

    rates = jnp.array([0.01, 0.05, 0.2])
    batched = jax.jit(jax.vmap(final_params))(rates)
    for i, lr in enumerate([0.01, 0.05, 0.2]):
        alone = final_params(lr)
        close = lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6)  # noqa: E731, B023
        jax.tree.map(close, batched, alone)
    assert not np.allclose(batched["w"][0], batched["w"][2])


@pytest.mark.parametrize("spec", SPECS)
def test_inject_hyperparams_learning_rate_in_state(spec):
    hparams = _required(spec)
    tx = jaxdl.optim.create(spec, inject=True, **hparams)
    params, grads = _problem(3)
    state = tx.init(params)
    assert set(state.hyperparams) == set(DEFAULTS[spec])  # every hyperparameter is injectable
    traces = []

    @jax.jit
    def update(g, s, p):
        traces.append(1)
        return tx.update(g, s, p)

    base, _ = update(grads[0], state, params)
    state.hyperparams["learning_rate"] = jnp.asarray(0.123, jnp.float32)
    changed, _ = update(grads[0], state, params)
    plain = jaxdl.optim.create(spec, **{**hparams, "learning_rate": 0.123})
    expected, _ = plain.update(grads[0], plain.init(params), params)
    # injected hyperparameters are float32 arrays, so 1 - beta2 is formed from 0.999f (1.3e-5 relative off)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7), changed, expected)
    assert not np.allclose(base["w"], changed["w"])
    assert len(traces) == 1  # one compiled program served both learning rates


@pytest.mark.parametrize("inject", [False, True], ids=["plain", "inject"])
@pytest.mark.parametrize("spec", SPECS)
def test_bfloat16_stays_bfloat16(spec, inject):
    tx = jaxdl.optim.create(spec, inject=inject, **_required(spec))
    params, grads = _problem(4, dtype=jnp.bfloat16)
    final, steps, state = _run(tx, params, grads, update=jax.jit(tx.update))
    for tree in [final, *steps]:
        assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(tree))
    inner = state.inner_state if inject else state
    for x in jax.tree.leaves(inner):
        assert x.dtype == jnp.bfloat16 or jnp.issubdtype(x.dtype, jnp.integer), x.dtype
    # and the values are the float32 ones to bfloat16 precision (first step, same bfloat16 inputs)
    wide = jaxdl.optim.create(spec, **_required(spec))
    as32 = lambda tree: jax.tree.map(lambda x: x.astype(jnp.float32), tree)  # noqa: E731
    want, _ = wide.update(as32(grads[0]), wide.init(as32(params)), as32(params))
    for got, ref in zip(jax.tree.leaves(steps[0]), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(got, np.float32), ref, rtol=2e-2, atol=2e-2 * np.max(np.abs(ref)))


@pytest.mark.parametrize("spec", SPECS)
def test_float32_stays_float32_with_traced_hyperparameters(spec):
    params, grads = _problem(5)

    @jax.jit
    def first_update(learning_rate):
        hparams = {**_required(spec), "learning_rate": learning_rate}
        tx = jaxdl.optim.create(spec, **hparams)
        return tx.update(grads[0], tx.init(params), params)

    updates, state = first_update(jnp.asarray(0.05, jnp.float32))
    for x in jax.tree.leaves((updates, state)):
        assert x.dtype in (jnp.float32, jnp.int32), x.dtype


@pytest.mark.parametrize("spec", ["course:momentum", "chainer:momentum", "notebook:momentum"])
def test_momentum_update_is_the_new_velocity(spec):
    """w += v with v = mu*v - lr*g: the update, written -(lr*g - mu*v), equals v up to the rounding
    of the two products (XLA may contract either form into a fused multiply-add)."""
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal((64,)), jnp.float32)}
    tx = jaxdl.optim.create(spec)
    state = tx.init(params)
    lr, mu = (DEFAULTS[spec][k] for k in ("learning_rate", "momentum"))
    for _ in range(5):
        grads = {"w": jnp.asarray(rng.standard_normal((64,)), jnp.float32)}
        velocity = np.asarray(state.velocity["w"], np.float64)
        updates, state = jax.jit(tx.update)(grads, state, params)
        bound = np.finfo(np.float32).eps * (np.abs(mu * velocity) + np.abs(lr * np.asarray(grads["w"], np.float64)))
        assert np.all(np.abs(np.asarray(updates["w"], np.float64) - np.asarray(state.velocity["w"])) <= bound)
