"""Replay the gradients recorded from Chainer 7.8.1 through jaxdl.optim's chainer family.

The fixture comes from tests/fixtures/make_chainer_optimizer_fixtures.py (run in a Chainer venv);
it stores Chainer's own arguments, which are mapped here to jaxdl's names.
"""

import json

import jax
import numpy as np
import optax
import pytest

import jaxdl.optim
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "chainer_optimizers.npz"
DATA = dict(np.load(FIXTURE))
CONFIGS = json.loads(str(DATA["configs"]))

NAMES = {"SGD": "sgd", "MomentumSGD": "momentum", "NesterovAG": "nesterov", "AdaGrad": "adagrad",
         "RMSprop": "rmsprop", "Adam": "adam"}  # fmt: skip
# Chainer argument -> jaxdl hyperparameter; `alpha` is Adam's step size but RMSprop's decay.
ARGUMENTS = {"lr": "learning_rate", "momentum": "momentum", "eps": "eps", "beta1": "beta1", "beta2": "beta2"}
ALPHA = {"Adam": "learning_rate", "RMSprop": "decay_rate"}
HOOKS = {"WeightDecay": jaxdl.optim.chainer_weight_decay, "Lasso": jaxdl.optim.chainer_lasso}
# Both sides are float32 doing the same operations (measured: under 1 ulp of the leaf scale per step);
# 2 ulps per step still fails eps 1e-7 for 1e-8 in AdaGrad (24 ulps per step on b).
ULPS_PER_STEP = 2


def _transform(config: dict) -> optax.GradientTransformation:
    cls = config["optimizer"]
    hparams = {ALPHA[cls] if k == "alpha" else ARGUMENTS[k]: v for k, v in config["kwargs"].items()}
    hooks = [HOOKS[name](rate) for name, rate in config["hooks"]]
    return optax.chain(*hooks, jaxdl.optim.create(f"chainer:{NAMES[cls]}", **hparams))


def test_fixture_is_chainer_7_8_1():
    assert str(DATA["chainer_version"]) == "7.8.1"
    assert DATA["grads/W"].shape[0] == DATA["traj/sgd/W"].shape[0] == 30


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_replays_chainer_trajectory(name):
    transform = _transform(CONFIGS[name])
    update = jax.jit(transform.update)
    params = {"W": DATA["init/W"], "b": DATA["init/b"]}
    state = transform.init(params)
    for t in range(DATA["grads/W"].shape[0]):
        grads = {"W": DATA["grads/W"][t], "b": DATA["grads/b"][t]}
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for key, got in params.items():
            want = DATA[f"traj/{name}/{key}"][t]
            scale = np.max(np.abs(DATA[f"traj/{name}/{key}"]))
            atol = ULPS_PER_STEP * (t + 1) * np.finfo(np.float32).eps * scale
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=f"{name}, step {t + 1}, {key}")
