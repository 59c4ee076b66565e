"""jaxdl.optim.create / describe / available: names, defaults, error messages."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.optim
from jaxdl.reference.optimizers import DEFAULTS

NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
HYPERPARAMETERS = {"learning_rate", "momentum", "decay_rate", "beta1", "beta2", "eps"}


def _required(spec: str) -> dict[str, float]:
    return {k: 0.5 for k, v in DEFAULTS[spec].items() if v is None}


def _described_hparams(line: str) -> dict[str, float]:
    pairs = line.rsplit(" | ", 1)[1].split(", ")
    return {k: float(v) for k, v in (pair.split("=") for pair in pairs)}


def test_available_lists_every_family_and_name():
    assert sorted(jaxdl.optim.available()) == sorted(DEFAULTS)
    for family in ("course", "chainer", "optax"):
        assert {f"{family}:{name}" for name in NAMES} <= set(jaxdl.optim.available())


@pytest.mark.parametrize("spec", sorted(DEFAULTS))
def test_describe_gives_the_reference_defaults_under_the_shared_names(spec):
    given = _required(spec)
    hparams = _described_hparams(jaxdl.optim.describe(spec, **given))
    assert set(hparams) <= HYPERPARAMETERS
    assert hparams == {k: given.get(k, v) for k, v in DEFAULTS[spec].items()}


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("chainer:rmsprop", "(sqrt(h) + eps)"),
        ("optax:rmsprop", "sqrt(h + eps)"),
        ("optax:adagrad", "starts at 0.1"),
        ("notebook:adagrad", "1e-4"),
        ("course:adam", "lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t)"),
        ("optax:adam", "(m / (1 - beta1^t))"),
        ("course:nesterov", "momentum^2 * v"),
        ("optax:nesterov", "(g + momentum * v)"),
    ],
)
def test_describe_names_the_formula_variant(spec, fragment):
    line = jaxdl.optim.describe(spec, **_required(spec))
    assert line.startswith(f"{spec} — ")
    assert fragment in line
    assert "\n" not in line


def test_describe_shows_given_values_including_jax_scalars():
    line = jaxdl.optim.describe("chainer:adam", learning_rate=jnp.float32(0.25), eps=1e-7)
    assert _described_hparams(line) == {"learning_rate": 0.25, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}


def test_bare_name_means_course():
    assert jaxdl.optim.describe("adagrad") == jaxdl.optim.describe("course:adagrad")
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.array([1.0, -2.0, 0.5])}
    bare, course = jaxdl.optim.create("adagrad"), jaxdl.optim.create("course:adagrad")
    np.testing.assert_array_equal(
        bare.update(grads, bare.init(params), params)[0]["w"], course.update(grads, course.init(params), params)[0]["w"]
    )


def test_unknown_family_lists_families():
    with pytest.raises(ValueError, match=r"unknown optimizer family 'pytorch'.*course, chainer, notebook, optax"):
        jaxdl.optim.create("pytorch:adam")


def test_unknown_name_lists_the_family_names():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamw' in family 'chainer'.*sgd, momentum, nesterov"):
        jaxdl.optim.create("chainer:adamw")


def test_absent_optimizer_says_why():
    with pytest.raises(ValueError, match=r"notebook:nesterov does not exist: the study text has no Nesterov loop"):
        jaxdl.optim.create("notebook:nesterov")


@pytest.mark.parametrize(
    ("spec", "hparams", "message"),
    [
        ("course:sgd", {"momentum": 0.9}, r"course:sgd has no hyperparameter momentum; valid: learning_rate$"),
        ("chainer:adam", {"alpha": 1e-3}, r"has no hyperparameter alpha; valid: learning_rate, beta1, beta2, eps"),
        ("notebook:adagrad", {"eps": 1e-7}, r"notebook:adagrad has no hyperparameter eps; valid: learning_rate$"),
        ("optax:rmsprop", {"lr": 0.1}, r"has no hyperparameter lr; valid: learning_rate, decay_rate, eps"),
    ],
)
def test_unknown_hyperparameter_lists_the_valid_ones(spec, hparams, message):
    with pytest.raises(ValueError, match=message):
        jaxdl.optim.create(spec, **hparams)
    with pytest.raises(ValueError, match=message):
        jaxdl.optim.describe(spec, **hparams)


def test_optax_family_needs_what_optax_has_no_default_for():
    with pytest.raises(ValueError, match=r"optax:momentum needs learning_rate, momentum"):
        jaxdl.optim.create("optax:momentum")
    with pytest.raises(ValueError, match=r"optax:adam needs learning_rate"):
        jaxdl.optim.create("optax:adam", inject=True)


def test_every_optimizer_states_its_reference_and_formula_as_data():
    """describe() reads `summary` and `formula` attributes, never the docstring; the docstring starts with them."""
    from jaxdl.optim.registry import FAMILIES

    for family, module in FAMILIES.items():
        for name, factory in module.OPTIMIZERS.items():
            assert factory.summary and factory.formula, f"{family}:{name}"
            assert factory.__doc__.startswith(f"{factory.summary}\n\n{factory.formula}"), f"{family}:{name}"
            required = {"learning_rate": 0.1, **({"momentum": 0.9} if name in ("momentum", "nesterov") else {})}
            described = jaxdl.optim.describe(f"{family}:{name}", **(required if family == "optax" else {}))
            assert f"— {factory.summary} | {' '.join(factory.formula.split())} |" in described
