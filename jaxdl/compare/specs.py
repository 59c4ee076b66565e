"""Optimizers and learning-rate schedules by name, with keyword hyperparameters written inline.

An optimizer spec is `PREFIX:NAME` or `PREFIX:NAME(key=value, ...)`:

    optax:adamw(weight_decay=0.01)   optax's own alias, with optax's keyword names (b1, b2, ...)
    optax:sgd(momentum=0.9, nesterov=True)
    chainer:momentum                 a jaxdl.optim family (course, chainer, notebook, optax)
    mypackage.rules:my_sgd(beta=0.5) a user's factory, imported by path; it returns an optax transform

`optax:NAME` is optax's alias of that name when optax has one (OPTAX_ALIASES), else the jaxdl.optim
optax family's (momentum, nesterov). Values are Python literals (numbers, True/False, None, strings).
A hyperparameter given inline is fixed; the others the search space names are tuned per trial.

A schedule spec is `NAME` or `NAME(key=value, ...)`, a multiplier m(t) of each trial's (peak) learning
rate at step t of a T-step budget (fractions are of T):

    constant                      m = 1
    cosine(alpha=0)               m = alpha + (1 - alpha) * (1 + cos(pi t / T)) / 2
    warmup_cosine(warmup=0.05, alpha=0)
                                  m = t / W for t < W (W = warmup * T), then cosine from 1 to alpha over T - W
    exponential(final=0.01)       m = final ** (t / T)
    step(boundaries=(0.5, 0.75), factor=0.1)
                                  m = factor ** (number of boundaries b with t >= b * T)

The schedule composes with every family: the learning rate lives in the optimizer state
(optax.inject_hyperparams) and each step sets it to peak * m(t) before the update, so a
family whose formula takes the learning rate inside its state (Chainer's momentum) sees the
scheduled value exactly where its formula uses the learning rate.
"""

import ast
import importlib
import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jaxdl.optim import registry

# optax's optimizer aliases that take a learning rate and step on gradients alone (lbfgs needs the
# loss's value and function; the polyak step size needs the loss value).
OPTAX_ALIASES = ("adabelief", "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamaxw", "adamw", "adan",
                 "amsgrad", "fromage", "lamb", "lars", "lion", "nadam", "nadamw", "noisy_sgd", "novograd",
                 "optimistic_adam_v2", "optimistic_gradient_descent", "radam", "rmsprop", "rprop", "sgd", "sign_sgd",
                 "signum", "sm3", "yogi")


class OptimizerSpec(NamedTuple):
    text: str  # as the user wrote it
    name: str  # canonical: "optax:adamw", "chainer:momentum", "pkg.mod:fn"
    kind: str  # "alias" (optax's), "family" (jaxdl.optim), "factory" (imported)
    factory: Callable[..., optax.GradientTransformation]
    fixed: dict[str, Any]  # inline hyperparameters

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.factory).parameters)

    @property
    def label(self) -> str:
        return self.text


def split_call(text: str, what: str) -> tuple[str, dict[str, Any]]:
    """'name(k=v, ...)' -> ('name', {k: v}) with Python-literal values; 'name' -> ('name', {})."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty {what}; write NAME or NAME(key=value, ...)")
    text = text.strip()
    if "(" not in text:
        return text, {}
    head, _, rest = text.partition("(")
    if not rest.endswith(")"):
        raise ValueError(f"bad {what} {text!r}: expected NAME(key=value, ...) with a closing parenthesis")
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
        if call.args:
            raise ValueError("positional values")
        values = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        if any(key is None for key in values):
            raise ValueError("**")
    except (SyntaxError, ValueError) as e:
        raise ValueError(f"bad {what} {text!r}: expected NAME(key=value, ...) with Python literals as values "
                         f"(numbers, True, False, None, strings, tuples) ({e})") from None
    return head.strip(), values


def parse_optimizer(text: str) -> OptimizerSpec:
    """The spec `text` resolved to its factory; ValueError listing what exists for an unknown name,
    and for a hyperparameter the factory does not take."""
    head, fixed = split_call(text, "optimizer")
    prefix, colon, name = head.rpartition(":")
    if not colon or not prefix or not name:
        raise ValueError(f"bad optimizer {text!r}: expected FAMILY:NAME (families {', '.join(registry.FAMILIES)}; "
                         f"optax:NAME for optax's aliases) or package.module:function")
    if prefix == "optax" and name in OPTAX_ALIASES:
        spec = OptimizerSpec(text, head, "alias", getattr(optax, name), fixed)
    elif prefix in registry.FAMILIES:
        if prefix == "optax" and name not in registry.FAMILIES["optax"].OPTIMIZERS:
            raise ValueError(f"unknown optimizer optax:{name}; optax's aliases: {', '.join(OPTAX_ALIASES)}; "
                             f"and the jaxdl.optim optax family's: {', '.join(registry.FAMILIES['optax'].OPTIMIZERS)}")
        canonical, factory = registry._factory(head)
        spec = OptimizerSpec(text, canonical, "family", factory, fixed)
    else:
        spec = OptimizerSpec(text, head, "factory", import_factory(prefix, name), fixed)
    unknown = sorted(set(fixed) - set(spec.parameters))
    if unknown:
        raise ValueError(f"{spec.name} has no hyperparameter {', '.join(unknown)}; it takes: "
                         f"{', '.join(spec.parameters) or 'none'}")
    return spec


def import_factory(module: str, function: str) -> Callable[..., optax.GradientTransformation]:
    """`module.function`, imported; ValueError naming what is missing."""
    try:
        loaded = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"cannot import {module!r} for the optimizer {module}:{function} ({e}); families are "
                         f"{', '.join(registry.FAMILIES)}; a factory is package.module:function on the Python "
                         "path") from None
    factory = getattr(loaded, function, None)
    if not callable(factory):
        raise ValueError(f"{module} has no function {function!r} (optimizer {module}:{function})")
    return factory


# --- schedules ---------------------------------------------------------------------------------------

Multiplier = Callable[[Any], Any]  # step count t (jax int) -> multiplier of the peak learning rate

SCHEDULES: dict[str, dict[str, Any]] = {
    "constant": {},
    "cosine": {"alpha": 0.0},
    "warmup_cosine": {"warmup": 0.05, "alpha": 0.0},
    "exponential": {"final": 0.01},
    "step": {"boundaries": (0.5, 0.75), "factor": 0.1},
}


def parse_schedule(text: str) -> tuple[str, dict[str, Any]]:
    """('name', every parameter with defaults filled in), checked; ValueError listing what exists."""
    name, given = split_call(text, "schedule")
    if name not in SCHEDULES:
        known = (f"{n}({', '.join(f'{k}={v}' for k, v in p.items())})" for n, p in SCHEDULES.items())
        raise ValueError(f"unknown schedule {name!r}; schedules: {', '.join(known)}")
    unknown = sorted(set(given) - set(SCHEDULES[name]))
    if unknown:
        raise ValueError(f"schedule {name} has no parameter {', '.join(unknown)}; it takes: "
                         f"{', '.join(SCHEDULES[name]) or 'none'}")
    params = {**SCHEDULES[name], **given}
    for key in ("alpha", "final", "factor", "warmup"):
        if key in params and not (isinstance(params[key], (int, float)) and 0 <= params[key] <= 1
                                  and (key != "final" or params[key] > 0)):
            raise ValueError(f"schedule {name}: {key} must be a number in {'(0' if key == 'final' else '[0'}, 1], "
                             f"got {params[key]!r}")
    if name == "step":
        bounds = params["boundaries"]
        bounds = bounds if isinstance(bounds, tuple) else (bounds,)
        if not bounds or not all(isinstance(b, (int, float)) and 0 < b < 1 for b in bounds):
            raise ValueError(f"schedule step: boundaries must be fractions of the budget in (0, 1), got {bounds!r}")
        params["boundaries"] = tuple(sorted(bounds))
    return name, params


def multiplier(name: str, params: dict[str, Any], steps: int) -> Multiplier:
    """m(t) of the module docstring for a `steps`-step budget (t counts updates done, from 0)."""
    if name == "constant":
        return lambda t: jnp.ones((), jnp.float32)
    if name == "cosine":
        return lambda t: _cosine(t / steps, params["alpha"])
    if name == "warmup_cosine":
        warm = max(1.0, params["warmup"] * steps)

        def warmup_cosine(t):
            t = jnp.asarray(t, jnp.float32)
            return jnp.where(t < warm, t / warm, _cosine((t - warm) / max(steps - warm, 1.0), params["alpha"]))

        return warmup_cosine
    if name == "exponential":
        return lambda t: jnp.float32(params["final"]) ** (jnp.asarray(t, jnp.float32) / steps)
    if name == "step":
        def step(t):
            passed = sum((jnp.asarray(t) >= math.ceil(b * steps)).astype(jnp.float32) for b in params["boundaries"])
            return jnp.float32(params["factor"]) ** passed

        return step
    raise ValueError(f"unknown schedule {name!r}")


def _cosine(fraction, alpha: float):
    fraction = jnp.clip(jnp.asarray(fraction, jnp.float32), 0.0, 1.0)
    return alpha + (1.0 - alpha) * 0.5 * (1.0 + jnp.cos(jnp.pi * fraction))


# --- building a tunable transform ---------------------------------------------------------------------

class ScheduledState(NamedTuple):
    """`scheduled`'s state: the updates done, the trial's peak learning rate, the injected optimizer's state."""

    count: Any
    peak: Any
    inner: Any  # optax InjectStatefulHyperparamsState; its hyperparams hold the tuned values


def scheduled(inner: optax.GradientTransformation, schedule: Multiplier) -> optax.GradientTransformation:
    """`inner` (an inject_hyperparams transform with a learning_rate) whose learning rate at update t is
    peak * schedule(t); peak starts as inner's initial learning rate (a trial sets it with `set_trial`)."""

    def init(params):
        state = inner.init(params)
        return ScheduledState(jnp.zeros((), jnp.int32), state.hyperparams["learning_rate"], state)

    def update(updates, state: ScheduledState, params=None):
        hyperparams = {**state.inner.hyperparams,
                       "learning_rate": (state.peak * schedule(state.count)).astype(jnp.float32)}
        updates, inner_state = inner.update(updates, state.inner._replace(hyperparams=hyperparams), params)
        return updates, ScheduledState(state.count + 1, state.peak, inner_state)

    return optax.GradientTransformation(init, update)


def tunable(spec: OptimizerSpec, tuned: dict[str, float], schedule: Multiplier | None) -> optax.GradientTransformation:
    """The optimizer of `spec` with the hyperparameters in `tuned` (and its learning rate) held as float32
    state values a trial overwrites (`set_trial`); inline ones are fixed; `schedule` scales the learning rate.

    `tuned` maps each tuned name to a valid placeholder value (a trial replaces it before training).
    """
    params = spec.parameters
    has_lr = "learning_rate" in params
    if schedule is not None and not has_lr:
        raise ValueError(f"{spec.name} takes no learning_rate, so a schedule cannot scale it; use --schedule constant")
    injected = dict(tuned)
    if has_lr and "learning_rate" not in injected:
        injected["learning_rate"] = spec.fixed.get("learning_rate", params["learning_rate"].default)
    fixed = {k: v for k, v in spec.fixed.items() if k not in injected}
    if spec.kind == "family":  # the family's checks of ranges and required values
        registry._resolve(spec.name, {**fixed, **injected}, inject=True)
    static = tuple(name for name in params if name not in injected)
    transform = optax.inject_hyperparams(spec.factory, static_args=static, hyperparam_dtype=jnp.float32)
    inner = transform(**fixed, **injected)
    if not has_lr:
        return inner
    return scheduled(inner, schedule or multiplier("constant", {}, 1))


def set_trial(opt_state: Any, values: dict[str, Any]) -> Any:
    """`opt_state` (from `tunable`) with the trial's hyperparameter `values` (learning_rate sets the peak)."""
    if isinstance(opt_state, ScheduledState):
        peak = jnp.asarray(values.get("learning_rate", opt_state.peak), jnp.float32)
        others = {k: v for k, v in values.items() if k != "learning_rate"}
        return ScheduledState(opt_state.count, peak, set_trial(opt_state.inner, others))
    hyperparams = dict(opt_state.hyperparams)
    for key, value in values.items():
        if key not in hyperparams:
            raise ValueError(f"the optimizer state holds no hyperparameter {key!r}; it holds {sorted(hyperparams)}")
        hyperparams[key] = jnp.asarray(value, jnp.float32)
    return opt_state._replace(hyperparams=hyperparams)
