"""jaxdl.optim against the independent float64 NumPy oracles: 60-step trajectories and per-step updates."""

import numpy as np
import optax
import pytest

import jaxdl.optim
from jaxdl.reference import optimizers as oracle

STEPS = 60
SPECS = sorted(oracle.DEFAULTS)
# Non-default values for every hyperparameter; eps is large so where it sits (inside/outside sqrt) shows.
CUSTOM = {"learning_rate": 0.05, "momentum": 0.6, "decay_rate": 0.8, "beta1": 0.7, "beta2": 0.95, "eps": 1e-3}
# float32 against float64: per-step updates within 1e-5 relative, plus 1e-6 of the step's largest update
# (momentum-like states cancel near zero); trajectories within 1e-5 relative plus 1e-6 of the leaf's range.
UPDATE_RTOL, UPDATE_ATOL, PARAM_RTOL, PARAM_ATOL = 1e-5, 1e-6, 1e-5, 1e-6
# optax.adam forms 1 - b2**t in float32 from b2 = 0.999f (1.3e-5 off at t=1); the error has one sign, so the
# trajectory drifts by ~6e-6 * lr per step. jaxdl's own Adam evaluates it with expm1/log1p and meets PARAM_ATOL.
PARAM_ATOL_OPTAX_ADAM = 1e-5


def _problem(seed: int = 0):
    """Initial params and STEPS gradients: a (3,4) leaf with O(1) gradients and a (5,) leaf with O(1e-3) ones.

    The small leaf makes eps visible: sqrt(h) ~ 1e-3 there, so eps 1e-7 vs 1e-8 moves its update by ~1e-4.
    """
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=(3, 4)), "b": 0.01 * rng.normal(size=5)}
    grads = [{"w": rng.normal(size=(3, 4)), "b": 1e-3 * rng.normal(size=5)} for _ in range(STEPS)]
    as32 = lambda tree: {k: v.astype(np.float32) for k, v in tree.items()}  # noqa: E731
    return as32(params), [as32(g) for g in grads]


def _hparams(spec: str, case: str) -> dict[str, float]:
    """custom: every hyperparameter set; defaults: only those the reference has no default for."""
    names = oracle.DEFAULTS[spec]
    if case == "custom":
        return {k: CUSTOM[k] for k in names}
    return {k: CUSTOM[k] for k, v in names.items() if v is None}


def _run_oracle(opt, params, grads_seq, penalty=None):
    params = {k: v.astype(np.float64) for k, v in params.items()}
    updates, trajectory = [], []
    for grads in grads_seq:
        grads = {k: v.astype(np.float64) for k, v in grads.items()}
        if penalty is not None:
            grads = penalty(grads, params)
        before = {k: v.copy() for k, v in params.items()}
        opt.update(params, grads)
        updates.append({k: params[k] - before[k] for k in params})
        trajectory.append({k: v.copy() for k, v in params.items()})
    return updates, trajectory


def _run_jax(tx, params, grads_seq):
    state = tx.init(params)
    updates, trajectory = [], []
    for grads in grads_seq:
        step, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, step)
        updates.append({k: np.asarray(v, np.float64) for k, v in step.items()})
        trajectory.append({k: np.asarray(v, np.float64) for k, v in params.items()})
    return updates, trajectory


def _assert_close(got, want, rtol, atol_fraction, what):
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        for key in w:
            scale = np.max(np.abs(w[key]))
            np.testing.assert_allclose(
                g[key], w[key], rtol=rtol, atol=atol_fraction * scale, err_msg=f"{what}, step {t + 1}, leaf {key}"
            )


def _assert_trajectories(jax_run, oracle_run, param_atol=PARAM_ATOL):
    (updates, trajectory), (want_updates, want_trajectory) = jax_run, oracle_run
    _assert_close(updates, want_updates, UPDATE_RTOL, UPDATE_ATOL, "update")
    # trajectory tolerance scales with each leaf's largest value over the whole run
    ranges = {k: max(np.max(np.abs(w[k])) for w in want_trajectory) for k in want_trajectory[0]}
    for t, (got, want) in enumerate(zip(trajectory, want_trajectory, strict=True)):
        for key in want:
            np.testing.assert_allclose(
                got[key], want[key], rtol=PARAM_RTOL, atol=param_atol * ranges[key], err_msg=f"params, step {t + 1}"
            )


@pytest.mark.parametrize("case", ["defaults", "custom"])
@pytest.mark.parametrize("spec", SPECS)
def test_matches_numpy_oracle(spec, case):
    hparams = _hparams(spec, case)
    params, grads = _problem()
    param_atol = PARAM_ATOL_OPTAX_ADAM if spec == "optax:adam" else PARAM_ATOL
    _assert_trajectories(
        _run_jax(jaxdl.optim.create(spec, **hparams), params, grads),
        _run_oracle(oracle.make(spec, **hparams), params, grads),
        param_atol,
    )


def test_seed_adagrad_first_two_steps_by_hand():
    lr = 0.1
    g1 = {"w": np.array([0.5, -2.0, 1e-3], np.float32)}
    g2 = {"w": np.array([-1.0, 0.25, 3.0], np.float32)}
    tx = jaxdl.optim.create("notebook:adagrad", learning_rate=lr)
    params = {"w": np.zeros(3, np.float32)}
    state = tx.init(params)
    u1, state = tx.update(g1, state, params)
    # step 1: h = 1e-4 (g1 not added), so w -= lr * g1 / 0.01 = 100 * lr * g1
    np.testing.assert_allclose(u1["w"], -100 * lr * g1["w"].astype(np.float64), rtol=1e-6)
    u2, _ = tx.update(g2, state, params)
    # step 2: h = 1e-4 + g2^2 (g1 never enters h)
    g2_64 = g2["w"].astype(np.float64)
    np.testing.assert_allclose(u2["w"], -lr * g2_64 / np.sqrt(1e-4 + g2_64**2), rtol=1e-6)


def test_course_nesterov_is_chainer_nesterov():
    params, grads = _problem(1)
    course_run = _run_jax(jaxdl.optim.create("course:nesterov"), params, grads)
    chainer_run = _run_jax(jaxdl.optim.create("chainer:nesterov"), params, grads)
    for got, want in zip(course_run[1], chainer_run[1], strict=True):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])


def _flax_tree(flat):
    return {"dense": {"kernel": flat["w"], "bias": flat["b"]}}


def _flat(tree):
    return {"w": tree["dense"]["kernel"], "b": tree["dense"]["bias"]}


# (penalty transform, oracle kind, keys the penalty touches)
PENALTIES = {
    "coupled_l2": (lambda r: jaxdl.optim.coupled_l2(r), "l2", ["w"]),
    "course_l1": (lambda r: jaxdl.optim.course_l1(r), "l1", ["w"]),
    "chainer_weight_decay": (lambda r: jaxdl.optim.chainer_weight_decay(r), "l2", ["w", "b"]),
    "chainer_lasso": (lambda r: jaxdl.optim.chainer_lasso(r), "l1", ["w", "b"]),
    "coupled_l2 mask=None": (lambda r: jaxdl.optim.coupled_l2(r, mask=None), "l2", ["w", "b"]),
    "chainer_lasso weights mask": (
        lambda r: jaxdl.optim.chainer_lasso(r, mask=jaxdl.optim.weights_only_mask),
        "l1",
        ["w"],
    ),
    "chainer_weight_decay bool-tree mask": (
        lambda r: jaxdl.optim.chainer_weight_decay(r, mask={"dense": {"kernel": False, "bias": True}}),
        "l2",
        ["b"],
    ),
}


@pytest.mark.parametrize("spec", ["course:sgd", "chainer:momentum", "course:adam"])
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
def test_penalty_chained_before_optimizer(penalty, spec):
    make_penalty, kind, keys = PENALTIES[penalty]
    rate = 0.05
    params, grads = _problem(2)
    tx = optax.chain(make_penalty(rate), jaxdl.optim.create(spec))
    state = tx.init(_flax_tree(params))
    tree = _flax_tree(params)
    updates, trajectory = [], []
    for g in grads:
        step, state = tx.update(_flax_tree(g), state, tree)
        tree = optax.apply_updates(tree, step)
        updates.append({k: np.asarray(v, np.float64) for k, v in _flat(step).items()})
        trajectory.append({k: np.asarray(v, np.float64) for k, v in _flat(tree).items()})
    want = _run_oracle(
        oracle.make(spec), params, grads, penalty=lambda g, w: oracle.penalize(g, w, kind, rate, keys)
    )
    _assert_trajectories((updates, trajectory), want)


def test_penalty_without_params_is_an_error():
    grads = _flax_tree(_problem()[1][0])
    for penalty in (jaxdl.optim.coupled_l2(0.1), jaxdl.optim.chainer_lasso(0.1)):
        with pytest.raises(ValueError, match="needs params"):
            penalty.update(grads, penalty.init(grads))


def test_weights_only_mask_selects_kernels():
    tree = {"affine1": {"kernel": 1, "bias": 2}, "batchnorm1": {"gamma": 3, "beta": 4}, "kernel": 5}
    assert jaxdl.optim.weights_only_mask(tree) == {
        "affine1": {"kernel": True, "bias": False},
        "batchnorm1": {"gamma": False, "beta": False},
        "kernel": True,
    }


def test_optax_nesterov_is_the_old_velocity_ordering():
    """optax:nesterov == `w += mu^2*v - (1+mu)*lr*g` THEN `v = mu*v - lr*g` (v from before the step)."""
    lr, mu = 0.05, 0.9
    params, grads = _problem(3)
    w = {k: v.astype(np.float64) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in w.items()}
    want = []
    for g in grads:
        for key in w:
            w[key] += mu * mu * v[key] - (1 + mu) * lr * g[key]
            v[key] = mu * v[key] - lr * g[key]
        want.append({k: x.copy() for k, x in w.items()})
    _, got = _run_jax(jaxdl.optim.create("optax:nesterov", learning_rate=lr, momentum=mu), params, grads)
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        for key in b:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-5, err_msg=f"step {t + 1}")
