"""Progress lines of compiled runs on stderr."""

import sys
import time

import jax


class Progress:
    """An `on_eval` callback: prints 'name: step s/total (elapsed)' to stderr after each evaluation."""

    def __init__(self, name: str, total_steps: int):
        self.name, self.total, self.start = name, total_steps, time.perf_counter()

    def __call__(self, step: jax.Array | int) -> None:
        step = int(step)
        end = "\n" if step >= self.total else "\r"
        print(f"{self.name}: step {step}/{self.total} ({time.perf_counter() - self.start:.1f} s)",
              end=end, file=sys.stderr, flush=True)
