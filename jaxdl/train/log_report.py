"""Chainer's LogReport, PrintReport and ProgressBar extensions, as plain objects."""

import datetime
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

import jax
import numpy as np

from jaxdl.atomic import atomic_write


class LogReport:
    """Chainer extensions.LogReport: at each `emit`, one log entry holding the mean of every
    key observed since the previous entry, then "epoch", "iteration" and "elapsed_time".

    The whole log is rewritten atomically as JSON (indent 4, like Chainer) to `path` (None: kept in
    memory only, as in the processes of a multi-process run other than the writing one).
    Observed values may be jax scalars; they are fetched only when an entry is made.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = path
        self.log: list[dict[str, float]] = []
        self._pending: dict[str, list[Any]] = {}

    def observe(self, observation: Mapping[str, Any]) -> None:
        for key, value in observation.items():
            self._pending.setdefault(key, []).append(value)

    def emit(self, epoch: int, iteration: int, elapsed_time: float) -> dict[str, float]:
        # Chainer DictSummary.compute_mean: sum of the observed values / their count, per key
        entry = {key: float(np.mean(np.asarray(jax.device_get(values), dtype=np.float64)))
                 for key, values in self._pending.items()}
        entry.update(epoch=epoch, iteration=iteration, elapsed_time=elapsed_time)
        self._pending = {}
        self.log.append(entry)
        if self.path is None:
            return entry
        with atomic_write(self.path, "w") as f:  # strict JSON: a non-finite mean is written as null
            json.dump([{key: value if math.isfinite(value) else None for key, value in e.items()} for e in self.log],
                      f, indent=4, allow_nan=False)
        return entry

    def state_dict(self) -> dict[str, Any]:
        pending = {key: [float(v) for v in jax.device_get(values)] for key, values in self._pending.items()}
        return {"log": self.log, "pending": pending}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.log = list(state["log"])
        self._pending = {key: list(values) for key, values in state["pending"].items()}


class PrintReport:
    """Chainer extensions.PrintReport: a header once, then one row per log entry; each
    column max(10, len(key)) wide, values formatted with 'g', missing values blank."""

    def __init__(self, keys: Sequence[str], out: IO[str] | None = None):
        self.keys = list(keys)
        self.widths = [max(10, len(key)) for key in self.keys]
        self.out = out or sys.stdout
        self._header_done = False

    def __call__(self, entry: Mapping[str, float]) -> None:
        if not self._header_done:
            self.out.write("  ".join(f"{key:{w}}" for key, w in zip(self.keys, self.widths, strict=True)) + "\n")
            self._header_done = True
        row = "".join(f"{entry[key]:<{w}g}  " if key in entry else " " * (w + 2)
                      for key, w in zip(self.keys, self.widths, strict=True))
        self.out.write(row + "\n")
        self.out.flush()


class ProgressBar:
    """Chainer extensions.ProgressBar: every `update_interval` iterations, bars for the whole
    run and the current epoch, the iteration/epoch counts, speed and estimated time left."""

    def __init__(self, total_iterations: int, stop_label: str, update_interval: int = 10,
                 out: IO[str] | None = None, bar_length: int = 50):
        self.total = total_iterations
        self.stop_label = stop_label
        self.update_interval = update_interval
        self.out = out or sys.stderr
        self.bar_length = bar_length
        self._start: tuple[float, int] | None = None

    def __call__(self, iteration: int, epoch: int, epoch_detail: float) -> None:
        now = time.perf_counter()
        if self._start is None:
            self._start = (now, iteration)
        if iteration % self.update_interval:
            return
        lines = [self._bar("     total", iteration / self.total),
                 self._bar("this epoch", epoch_detail - epoch),
                 f"{iteration:10} iter, {epoch} epoch / {self.stop_label}"]
        start_time, start_iteration = self._start
        if iteration > start_iteration:
            speed = (iteration - start_iteration) / max(now - start_time, 1e-9)
            eta = datetime.timedelta(seconds=round(max(self.total - iteration, 0) / speed))
            lines.append(f"{speed:10.5g} iters/sec. Estimated time to finish: {eta}.")
        self.out.write("\n".join(lines) + "\n")
        if self.out.isatty():
            self.out.write(f"\033[{len(lines)}A")  # redraw in place, as Chainer does on a terminal
        self.out.flush()

    def _bar(self, label: str, rate: float) -> str:
        rate = min(max(rate, 0.0), 1.0)
        marks = int(rate * self.bar_length)
        return f"{label} [{'#' * marks}{'.' * (self.bar_length - marks)}] {rate:7.2%}"
