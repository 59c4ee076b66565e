"""Step timing that async dispatch cannot flatter: percentiles of per-step times, each step blocked on.

JAX returns from a jitted call as soon as the work is queued on the device. A step is therefore
timed from its dispatch until `jax.block_until_ready` returns on everything it produced (the new
state and its metrics): the device has finished that step before the next one is dispatched, so
no step's work hides in a later one. Blocking on every step adds one host round trip per step;
`time_steps` also times the same number of steps dispatched back to back and blocked on once at
the end (`pipelined_step_time_s`), the rate a training loop that never waits gets.
"""

import math
import time
from collections.abc import Callable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) with linear interpolation between closest ranks
    (NumPy's default "linear" method): rank q/100 * (n - 1) of the sorted values."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_times(times: Sequence[float]) -> dict[str, float]:
    """{"step_time_s": median, "step_time_p10_s", "step_time_p90_s", "step_time_min_s"} of step times."""
    return {"step_time_s": percentile(times, 50), "step_time_p10_s": percentile(times, 10),
            "step_time_p90_s": percentile(times, 90), "step_time_min_s": min(times)}


def time_steps(step: Callable[[Any], Any], carry: Any, warmup: int, steps: int,
               block: Callable[[Any], Any], clock: Callable[[], float] = time.perf_counter
               ) -> tuple[list[float], float, Any]:
    """(per-step seconds of `steps` steps, pipelined seconds per step, the last carry).

    carry = step(carry) is run `warmup` times untimed, then `steps` times each timed from its call
    until block(carry) returns, then `steps` more back to back with one block at the end (their
    mean is the pipelined time). `block` is jax.block_until_ready for JAX steps.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    for _ in range(warmup):
        carry = step(carry)
    block(carry)
    times = []
    for _ in range(steps):
        started = clock()
        carry = block(step(carry))
        times.append(clock() - started)
    started = clock()
    for _ in range(steps):
        carry = step(carry)
    block(carry)
    return times, (clock() - started) / steps, carry
