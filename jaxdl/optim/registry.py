"""Optimizers by name: "family:name" (or "name", family course) -> optax transform, with checked hyperparameters."""

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.optim import chainer, course, notebook, optax_family
from jaxdl.optim._dtypes import keep_dtypes

FAMILIES: dict[str, ModuleType] = {"course": course, "chainer": chainer, "notebook": notebook, "optax": optax_family}
DEFAULT_FAMILY = "course"


def available() -> list[str]:
    """Every "family:name" that `create` accepts."""
    return [f"{family}:{name}" for family, module in FAMILIES.items() for name in module.OPTIMIZERS]


def _factory(spec: str) -> tuple[str, Callable[..., optax.GradientTransformation]]:
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


def _resolve(spec: str, hparams: dict[str, Any]) -> tuple[str, Callable[..., optax.GradientTransformation], dict]:
    """The canonical spec, its factory, and every hyperparameter (given ones over the family defaults)."""
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
    return full, factory, resolved


def create(spec: str, *, inject: bool = False, **hparams: Any) -> optax.GradientTransformation:
    """The optimizer `spec` ("family:name" or "name" for course) as an optax transform giving full updates.

    Hyperparameters (learning_rate, momentum, decay_rate, beta1, beta2, eps, as the optimizer
    takes them) default to the family's reference values; unknown families, names or
    hyperparameters raise ValueError listing the valid ones.

    Updates come back in the gradients' dtype and the state keeps its initial dtypes (bfloat16
    parameters give bfloat16 updates and moments; arithmetic runs in at least float32).

    With inject=True the transform is wrapped in optax.inject_hyperparams: every hyperparameter
    lives in `state.hyperparams` as a float32 array (not optax's default of the parameters'
    dtype: bfloat16 would turn beta2=0.999 into 0.996), so e.g.
    `state.hyperparams["learning_rate"] = jnp.float32(lr)` changes the step inside one compiled
    program, and a hyperparameter may also be a schedule (a callable of the step count).
    """
    _, factory, resolved = _resolve(spec, hparams)
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
