"""Argument checks of the public API, run before any work: each names the function, the argument,
its value and what is allowed (TypeError for a wrong type or dtype, ValueError for a wrong value).

Values traced by jit / vmap / grad (jax Tracers) are checked for type and rank only, never
compared: a Python comparison of a tracer would fail or force it to be concrete.
"""

import math
import numbers
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_traced(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def _type_name(value: Any) -> str:
    return type(value).__name__


def integer(where: str, name: str, value: Any, minimum: int | None = None) -> int:
    """`value` as a Python int: TypeError unless an integer (bool excluded), ValueError below `minimum`."""
    allowed = "an int" if minimum is None else f">= {minimum} (an int)"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be {allowed}, got {value!r} ({_type_name(value)})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be {allowed}, got {value!r}")
    return int(value)


def int_pair(where: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair (ValueError for a sequence of another length)."""
    allowed = f">= {minimum} (an int or a pair of ints)"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        pair = (value, value)
    elif isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"{where}: {name} must be {allowed}, got {value!r} ({len(value)} values)")
        pair = tuple(value)
    else:
        raise TypeError(f"{where}: {name} must be {allowed}, got {value!r} ({_type_name(value)})")
    for v in pair:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{where}: {name} must be {allowed}, got {value!r}")
        if v < minimum:
            raise ValueError(f"{where}: {name} must be {allowed}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def real(where: str, name: str, value: Any, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> Any:
    """Check a real scalar hyperparameter and return it unchanged.

    Accepts Python and NumPy reals and 0-d real arrays (jax or NumPy); a concrete value must be
    finite and inside the interval; a traced one only needs to be a real scalar.
    """
    allowed = f"a finite real number {_interval(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool | np.bool_ | str | bytes):
        raise TypeError(f"{where}: {name} must be {allowed}, got {value!r} ({_type_name(value)})")
    if isinstance(value, numbers.Real):
        concrete = float(value)
    elif hasattr(value, "dtype") and hasattr(value, "shape"):
        if np.shape(value) != () or not (jnp.issubdtype(value.dtype, jnp.floating)
                                         or jnp.issubdtype(value.dtype, jnp.integer)):
            raise TypeError(f"{where}: {name} must be {allowed} (a real scalar), "
                            f"got an array of dtype {value.dtype} and shape {tuple(np.shape(value))}")
        if is_traced(value):
            return value
        concrete = float(np.asarray(value))
    else:
        raise TypeError(f"{where}: {name} must be {allowed}, got {value!r} ({_type_name(value)})")
    inside = math.isfinite(concrete)
    if low is not None:
        inside = inside and (concrete > low if low_open else concrete >= low)
    if high is not None:
        inside = inside and (concrete < high if high_open else concrete <= high)
    if not inside:
        raise ValueError(f"{where}: {name} must be {allowed}, got {concrete!r}")
    return value


def array(where: str, name: str, value: Any) -> Any:
    """TypeError unless `value` is an array (has a shape and a dtype)."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise TypeError(f"{where}: {name} must be an array (jax or NumPy), got {_type_name(value)}")
    return value


def floating(where: str, name: str, value: Any) -> Any:
    """TypeError unless `value` is an array of a floating dtype (the references compute in float)."""
    array(where, name, value)
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(f"{where}: {name} must be a floating-point array, got dtype {value.dtype}; "
                        f"cast it first, e.g. {name}.astype(jnp.float32)")
    return value


def choice(where: str, name: str, value: Any, allowed: Any) -> Any:
    """TypeError unless a str, ValueError unless one of `allowed`."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a str, one of {sorted(allowed)}, got {value!r} ({_type_name(value)})")
    if value not in allowed:
        raise ValueError(f"{where}: unknown {name} {value!r}; choose one of {sorted(allowed)}")
    return value


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first local header, or an empty zip's end record


def npz_problem(path: Any) -> str | None:
    """Why `path` is not a readable npz archive (None when it is one: a zip whose directory reads).

    Missing files and folders are left to open() (FileNotFoundError / IsADirectoryError name them).
    """
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(NPY_MAGIC):
        return "it is a single .npy array (np.save), not an npz archive"
    if not head.startswith(ZIP_MAGICS):
        return f"it is not a zip archive (its first bytes are {head!r})"
    try:
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"the zip archive is truncated or corrupt ({error})"
    return None
