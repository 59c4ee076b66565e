"""What every benchmark CLI shares: child processes, the NumPy side's BLAS environment, best-of-N timing, FLOP rates.

Standard library only (no JAX, no NumPy), so the NumPy and PyTorch children can import it.
XLA's FLOP counts and the GEMM rate are in `jaxdl.bench.flops`.
"""

import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

# OpenBLAS settings some machines export (CPU type override, L2 size) that halve NumPy's matmul speed.
SLOW_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# The repository root (of a source checkout), where `python -m experiments.NAME` resolves.
REPO = pathlib.Path(__file__).resolve().parents[2]


def numpy_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default os.environ) without SLOW_BLAS_VARIABLES: the environment of a NumPy child."""
    environ = os.environ if environ is None else environ
    return {key: value for key, value in environ.items() if key not in SLOW_BLAS_VARIABLES}


def python_module(module: str, *args: str, python: str | None = None) -> list[str]:
    """The command `python -m module args...` (python: this interpreter unless given)."""
    return [python or sys.executable, "-m", module, *args]


class Child(NamedTuple):
    """A finished child process: its wall time (start to exit), exit status and output."""

    wall_s: float
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The JSON value on the last non-empty line of stdout (children print one JSON line last)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"the child printed nothing on stdout; stderr ends: {self.stderr[-500:]!r}")
        return json.loads(lines[-1])


def spawn(command: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
          check: bool = True, stderr_to_terminal: bool = False) -> Child:
    """Run `command` to its end and time it; stdout is captured, stderr too unless `stderr_to_terminal`.

    env: the child's whole environment (default: this process's); cwd: its working directory
    (default: this process's; REPO lets `-m experiments.NAME` resolve from anywhere). With
    `check`, a non-zero exit raises subprocess.CalledProcessError.
    """
    started = time.perf_counter()
    done = subprocess.run(list(command), env=None if env is None else dict(env), cwd=cwd, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=None if stderr_to_terminal else subprocess.PIPE)
    return Child(time.perf_counter() - started, done.returncode, done.stdout, done.stderr or "")


def best_seconds(call: Callable[[], Any], repeats: int, block: Callable[[Any], Any] = lambda result: result,
                 clock: Callable[[], float] = time.perf_counter) -> float:
    """Best wall time of `repeats` calls of call(), each result passed to `block` (e.g.
    jax.block_until_ready) inside the timing, after one untimed call (compiles, warms caches).

    On a shared machine the best (least disturbed) time is the steadiest estimate.
    """
    block(call())
    times = []
    for _ in range(repeats):
        started = clock()
        block(call())
        times.append(clock() - started)
    return min(times)


def fastest(tries: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any]:
    """The try with the smallest `key` (a copy), with every try's value added as f"{key}_tries"."""
    best = dict(min(tries, key=lambda t: t[key]))
    best[f"{key}_tries"] = [t[key] for t in tries]
    return best


def flops_per_s(flops: float, seconds: float) -> float:
    """The achieved rate: flops / seconds."""
    return flops / seconds


def fraction_of_gemm(flops: float, seconds: float, gemm_flops_per_s: float) -> float:
    """The achieved rate as a fraction of a float32 GEMM's rate measured on the same machine."""
    return flops_per_s(flops, seconds) / gemm_flops_per_s
