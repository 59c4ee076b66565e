"""Optimizers by name: "family:name" (or "name", family course) -> optax transform, with checked hyperparameters."""

import inspect
from collections.abc import Callable, Container
from types import ModuleType
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jaxdl import _validate
from jaxdl.optim import chainer, course, notebook, optax_family
from jaxdl.optim._dtypes import keep_dtypes

FAMILIES: dict[str, ModuleType] = {"course": course, "chainer": chainer, "notebook": notebook, "optax": optax_family}
DEFAULT_FAMILY = "course"


def available() -> list[str]:
    """Every "family:name" that `create` accepts."""
    return [f"{family}:{name}" for family, module in FAMILIES.items() for name in module.OPTIMIZERS]


# The range each hyperparameter needs in every family's formulas: (low, high, low_open, high_open).
# learning_rate > 0 (a negative one ascends), eps > 0 (eps = 0 divides 0 by 0 where g = 0 and h = 0),
# decay factors in [0, 1) (beta1 = 1 divides by 1 - beta1^t = 0; 1 never forgets, > 1 or < 0 diverges).
RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "learning_rate": (0.0, None, True, False),
    "momentum": (0.0, 1.0, False, True),
    "decay_rate": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "eps": (0.0, None, True, False),
}


def _check_spec(spec: Any) -> None:
    if not isinstance(spec, str):
        raise TypeError(f"optimizer spec must be a str such as 'chainer:adam' (family:name) or 'adam' (course), "
                        f"got {spec!r} ({type(spec).__name__}); available: {', '.join(available())}")


def _check_hparams(full: str, resolved: dict[str, Any], schedules: Container[str]) -> None:
    """Each hyperparameter a real scalar in its range (checked when concrete); those named in
    `schedules` may also be a callable (a schedule of the step count)."""
    for key, value in resolved.items():
        if callable(value) and not hasattr(value, "dtype"):
            if key in schedules:
                continue
            raise TypeError(f"{full}: {key} is a callable ({getattr(value, '__name__', 'schedule')}), but {full} "
                            f"takes a schedule only with inject=True; pass a number, or use inject=True")
        low, high, low_open, high_open = RANGES.get(key, (None, None, False, False))
        _validate.real(full, key, value, low, high, low_open, high_open)


def _factory(spec: str) -> tuple[str, Callable[..., optax.GradientTransformation]]:
    _check_spec(spec)
    family, _, name = spec.rpartition(":")
    family = family or DEFAULT_FAMILY
    if family not in FAMILIES:
        raise ValueError(f"unknown optimizer family {family!r} in {spec!r}; families: {', '.join(FAMILIES)}")
    module = FAMILIES[family]
    if name in module.ABSENT:
        raise ValueError(f"{family}:{name} does not exist: {module.ABSENT[name]}")
    if name not in module.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r} in family {family!r}; names: {', '.join(module.OPTIMIZERS)}")
    return f"{family}:{name}", module.OPTIMIZERS[name]


def _resolve(spec: str, hparams: dict[str, Any], inject: bool = True
             ) -> tuple[str, Callable[..., optax.GradientTransformation], dict]:
    """The canonical spec, its factory, and every hyperparameter (given ones over the family defaults),
    each checked against RANGES. A schedule (callable) is accepted for any hyperparameter with
    `inject` (inject_hyperparams evaluates it), else only for an optax optimizer's learning_rate."""
    full, factory = _factory(spec)
    params = inspect.signature(factory).parameters
    unknown = sorted(set(hparams) - set(params))
    if unknown:
        raise ValueError(f"{full} has no hyperparameter {', '.join(unknown)}; valid: {', '.join(params)}")
    missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in hparams]
    if missing:
        raise ValueError(
            f"{full} needs {', '.join(missing)} (the reference has no default); valid: {', '.join(params)}"
        )
    resolved = {k: hparams.get(k, p.default) for k, p in params.items()}
    _check_hparams(full, resolved, resolved if inject else ("learning_rate",) if full.startswith("optax:") else ())
    return full, factory, resolved


def create(spec: str, *, inject: bool = False, **hparams: Any) -> optax.GradientTransformation:
    """The optimizer `spec` ("family:name" or "name" for course) as an optax transform giving full updates.

    Hyperparameters (learning_rate, momentum, decay_rate, beta1, beta2, eps, as the optimizer
    takes them) default to the family's reference values; unknown families, names or
    hyperparameters raise ValueError listing the valid ones. Each value must be a real scalar
    (Python, NumPy or jax; traced ones are not range-checked) with learning_rate > 0, eps > 0
    and momentum, decay_rate, beta1, beta2 in [0, 1), else TypeError / ValueError naming it.

    Updates come back in the gradients' dtype and the state keeps its initial dtypes (bfloat16
    parameters give bfloat16 updates and moments; arithmetic runs in at least float32).

    With inject=True the transform is wrapped in optax.inject_hyperparams: every hyperparameter
    lives in `state.hyperparams` as a float32 array (not optax's default of the parameters'
    dtype: bfloat16 would turn beta2=0.999 into 0.996), so e.g.
    `state.hyperparams["learning_rate"] = jnp.float32(lr)` changes the step inside one compiled
    program, and a hyperparameter may also be a schedule (a callable of the step count).
    """
    if not isinstance(inject, bool | np.bool_):
        raise TypeError(f"optim.create: inject must be True or False, got {inject!r}")
    _, factory, resolved = _resolve(spec, hparams, inject=bool(inject))
    if inject:
        return keep_dtypes(optax.inject_hyperparams(factory, hyperparam_dtype=jnp.float32)(**resolved))
    return keep_dtypes(factory(**resolved))


def _format(value: Any) -> str:
    if callable(value):
        return getattr(value, "__name__", "schedule")
    return repr(float(np.asarray(value)))


def describe(spec: str, **hparams: Any) -> str:
    """One line naming the reference, its exact update formula and the resolved hyperparameters.

    e.g. "chainer:adagrad — Chainer AdaGrad(lr=0.001, eps=1e-8), h starting at 0. |
    h += g^2;  w -= learning_rate * g / (sqrt(h) + eps) | learning_rate=0.001, eps=1e-08"
    """
    full, factory, resolved = _resolve(spec, hparams)
    values = ", ".join(f"{k}={_format(v)}" for k, v in resolved.items())
    return f"{full} — {factory.summary} | {' '.join(factory.formula.split())} | {values}"
