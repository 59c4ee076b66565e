"""results.json: the run's settings, curves, summary and the environment that produced them."""

import json
import math
import os
import platform
from typing import Any

import jax
import numpy as np

from jaxdl.atomic import atomic_write


def cpu_model() -> str:
    """The processor's name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """Versions, the device a result was produced on, and the XLA options its training runs were
    compiled with (jaxdl.train.compile.compiler_options("runs"))."""
    import flax
    import optax

    from jaxdl.train.compile import compiler_options

    device = jax.devices()[0]
    return {
        "jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "backend": jax.default_backend(), "device": device.device_kind, "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "machine": platform.machine(),
        "xla_options": compiler_options("runs"),
    }


def _plain(value: Any) -> Any:
    """`value` as JSON types: arrays become lists, NaN and infinities null (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.ndarray, jax.Array)):
        return _plain(np.asarray(value).tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write `payload` as indented strict JSON (arrays become lists; NaN and infinities, e.g. the
    accuracy of a diverged run, become null), atomically."""
    with atomic_write(path, "w") as f:
        json.dump(_plain(payload), f, indent=1, allow_nan=False)
        f.write("\n")


def write_results(out: str | os.PathLike, table: str, result: dict[str, Any]) -> None:
    """An experiment's table.md and results.json into `out` (atomically), and the table and its
    timing line (result's compile_s, wall_s, environment) on stdout."""
    with atomic_write(os.path.join(out, "table.md"), "w") as f:
        f.write(table)
    write_json(os.path.join(out, "results.json"), result)
    print(table)
    print(f"compile {result['compile_s']:.2f} s, total {result['wall_s']:.2f} s on {result['environment']['device']}")
