"""Chainer's PlotReport: chosen log keys against the iteration (or epoch), saved as a PNG."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the non-interactive backend)

from jaxdl.atomic import atomic_write  # noqa: E402


def plot_log(log: Sequence[Mapping[str, float]], keys: Sequence[str], path: str | os.PathLike,
             x_key: str = "iteration") -> None:
    """One line per key over the log entries that hold it; the PNG is written atomically."""
    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.add_subplot()
    for key in keys:
        points = [(entry[x_key], entry[key]) for entry in log if key in entry]
        if points:
            xs, ys = zip(*points, strict=False)
            axes.plot(xs, ys, marker="." if len(points) < 50 else None, label=key)
    axes.set_xlabel(x_key)
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_write(path) as f:
        figure.savefig(f, format="png")
