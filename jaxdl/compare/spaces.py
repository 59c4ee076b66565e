"""Search spaces and their trials: quasi-random (Halton) or grid points, the same for every seed.

A dimension is written as in `--space SPEC:KEY=DIST`:

    loguniform(low, high)       log-uniform on [low, high]   (learning rates, weight decay)
    uniform(low, high)          uniform on [low, high]
    one_minus_loguniform(low, high)
                                1 - x with x log-uniform on [low, high] (momentum, beta1: 0.9 is x = 0.1)
    a number                    fixed

Trial k (k = 0 .. K-1) of a D-dimensional space is the Halton point k + 1 in bases 2, 3, 5, ...
(unscrambled, so a sweep is reproducible without a seed; index 0, the corner, is skipped), mapped
through each dimension's inverse CDF: u -> low * (high / low) ** u for log-uniform. The quasi-random
points cover the space more evenly than random ones (Bousquet et al. 2017, as AlgoPerf's baselines
tune). A grid puts n = K ** (1 / D) points per dimension (K must be n ** D), at u = i / (n - 1), or
u = 0.5 when n = 1; dimensions vary slowest first.

Default spaces (`default_space`): every tunable optimizer tunes its learning rate log-uniformly
(LEARNING_RATES gives the range by name; others 1e-4 .. 1); optimizers with a `momentum` that is
required or has a number as default tune it as one_minus_loguniform(0.01, 0.5); those with a
`weight_decay` (decoupled: adamw, lion, lamb, ...) tune it log-uniformly in [1e-5, 1e-1].
Hyperparameters fixed inline in the optimizer spec are never tuned.
"""

import inspect
import math
import re
from typing import Any, NamedTuple

import numpy as np

from jaxdl.compare.specs import OptimizerSpec

SCALES = ("loguniform", "uniform", "one_minus_loguniform")
SEARCHES = ("quasirandom", "grid")
# learning-rate ranges by optimizer name (the part after the family); others DEFAULT_LR
LEARNING_RATES: dict[str, tuple[float, float]] = {
    "sgd": (1e-3, 1.0), "momentum": (1e-3, 1.0), "nesterov": (1e-3, 1.0), "lars": (1e-3, 1.0),
    "lion": (1e-5, 1e-2), "signum": (1e-5, 1e-2), "sign_sgd": (1e-5, 1e-2),
    "adam": (1e-4, 1e-1), "adamw": (1e-4, 1e-1), "nadam": (1e-4, 1e-1), "nadamw": (1e-4, 1e-1),
    "radam": (1e-4, 1e-1), "amsgrad": (1e-4, 1e-1), "adamax": (1e-4, 1e-1), "adamaxw": (1e-4, 1e-1),
    "adabelief": (1e-4, 1e-1), "yogi": (1e-4, 1e-1), "lamb": (1e-4, 1e-1), "rmsprop": (1e-4, 1e-1),
    "adagrad": (1e-3, 1.0), "adafactor": (1e-4, 1e-1), "adan": (1e-4, 1e-1),
}
DEFAULT_LR = (1e-4, 1.0)
MOMENTUM = (0.01, 0.5)
WEIGHT_DECAY = (1e-5, 1e-1)
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


class Dim(NamedTuple):
    name: str
    scale: str  # one of SCALES
    low: float
    high: float

    def value(self, u: float) -> float:
        """The point u in [0, 1] of the dimension's inverse CDF."""
        if self.scale == "uniform":
            return self.low + (self.high - self.low) * u
        x = self.low * (self.high / self.low) ** u
        return 1.0 - x if self.scale == "one_minus_loguniform" else x

    def __str__(self) -> str:
        return f"{self.name}={self.scale}({self.low:g}, {self.high:g})"


Space = tuple[Dim, ...]


def parse_dim(name: str, text: str) -> Dim | float:
    """A Dim from 'loguniform(a, b)' and the like, or a float for a fixed number; ValueError otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    match = re.fullmatch(r"\s*(\w+)\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*", text)
    try:
        scale, low, high = match[1], float(match[2]), float(match[3])
    except (TypeError, ValueError):
        scale = None
    if scale not in SCALES:
        raise ValueError(f"bad search dimension {name}={text!r}: expected a number or one of "
                         f"{', '.join(s + '(low, high)' for s in SCALES)}")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)) or not low < high:
        raise ValueError(f"bad search dimension {name}={text!r}: needs finite low < high")
    if scale != "uniform" and low <= 0:
        raise ValueError(f"bad search dimension {name}={text!r}: a log scale needs low > 0")
    if scale == "one_minus_loguniform" and high >= 1:
        raise ValueError(f"bad search dimension {name}={text!r}: 1 - x needs x < 1")
    return Dim(name, scale, float(low), float(high))


def default_space(spec: OptimizerSpec) -> Space:
    """The module docstring's default dimensions for `spec`, less those fixed inline."""
    params = spec.parameters
    short = spec.name.rpartition(":")[2]
    dims = []
    if "learning_rate" in params:
        dims.append(Dim("learning_rate", "loguniform", *LEARNING_RATES.get(short, DEFAULT_LR)))
    momentum = params.get("momentum")
    if momentum is not None and (momentum.default is inspect.Parameter.empty
                                 or isinstance(momentum.default, float)):
        dims.append(Dim("momentum", "one_minus_loguniform", *MOMENTUM))
    decay = params.get("weight_decay")
    if decay is not None and isinstance(decay.default, (int, float)) and not isinstance(decay.default, bool):
        dims.append(Dim("weight_decay", "loguniform", *WEIGHT_DECAY))
    return tuple(dim for dim in dims if dim.name not in spec.fixed)


def halton(n: int, dims: int) -> np.ndarray:
    """[n, dims]: Halton points 1 .. n (radical inverses of the index in the first `dims` primes)."""
    if dims > len(PRIMES):
        raise ValueError(f"a quasi-random search takes at most {len(PRIMES)} dimensions, got {dims}")
    points = np.zeros((n, dims))
    for d, base in enumerate(PRIMES[:dims]):
        for i in range(n):
            index, fraction, value = i + 1, 1.0, 0.0
            while index:
                fraction /= base
                value += fraction * (index % base)
                index //= base
            points[i, d] = value
    return points


def grid_points(n_trials: int, dims: int) -> np.ndarray:
    """[n_trials, dims]: the n ** dims grid (n_trials = n ** dims), first dimension slowest."""
    n = round(n_trials ** (1 / dims)) if dims else 1
    if n ** dims != n_trials:
        raise ValueError(f"a grid over {dims} dimensions needs a number of trials that is a power n ** {dims}, "
                         f"got --trials {n_trials}; use --search quasirandom or --trials {n ** dims}")
    axis = np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5])
    return np.stack(np.meshgrid(*[axis] * dims, indexing="ij"), -1).reshape(-1, dims)


def trials(space: Space, n_trials: int, search: str = "quasirandom") -> list[dict[str, float]]:
    """The `n_trials` hyperparameter settings of `space` ({name: value}); a space without dimensions
    has one setting, {} (the spec's values), repeated."""
    if search not in SEARCHES:
        raise ValueError(f"unknown search {search!r}; choose one of {', '.join(SEARCHES)}")
    if not space:
        return [{} for _ in range(n_trials)]
    unit = halton(n_trials, len(space)) if search == "quasirandom" else grid_points(n_trials, len(space))
    return [{dim.name: float(dim.value(u)) for dim, u in zip(space, row, strict=True)} for row in unit]


def with_overrides(space: Space, overrides: dict[str, Any], spec: OptimizerSpec) -> Space:
    """`space` with dimensions replaced or added from `overrides` ({name: Dim}); a fixed number there
    belongs in the spec instead, so it is refused with that advice."""
    params = spec.parameters
    by_name = {dim.name: dim for dim in space}
    for name, dim in overrides.items():
        if name not in params:
            raise ValueError(f"--space {spec.text}:{name}: {spec.name} has no hyperparameter {name}; "
                             f"it takes: {', '.join(params)}")
        if name in spec.fixed:
            raise ValueError(f"--space {spec.text}:{name}: {name} is fixed in the spec; drop one of the two")
        if not isinstance(dim, Dim):
            raise ValueError(f"--space {spec.text}:{name}={dim}: a fixed value goes in the spec, "
                             f"e.g. {spec.name}({name}={dim})")
        by_name[name] = dim
    return tuple(by_name.values())
