"""Curve figures in the study text's style: one panel per config, a mean line and a band over seeds."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from jaxdl.atomic import atomic_write  # noqa: E402


def band(axes, x: np.ndarray, runs: np.ndarray, label: str, color: str | None = None) -> None:
    """Mean over runs (axis 0) as a line; with several runs, the min-max range as a band."""
    runs = np.atleast_2d(runs)
    line, = axes.plot(x, runs.mean(axis=0), label=label, color=color)
    if runs.shape[0] > 1:
        axes.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0)


def panel_grid(panels: Sequence[tuple[str, Mapping[str, np.ndarray]]], x: np.ndarray, path: str | os.PathLike,
               columns: int, xlabel: str = "count", ylabel: str = "accuracy",
               ylim: tuple[float, float] | None = (0.0, 1.0), legend: str = "lower right") -> None:
    """One subplot per (title, {curve label: runs [seeds, points]}), saved as PNG atomically;
    `legend` is the legends' matplotlib location."""
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(4.0 * columns, 2.9 * rows))
    for index, (title, curves) in enumerate(panels, start=1):
        axes = figure.add_subplot(rows, columns, index)
        for label, runs in curves.items():
            band(axes, x, runs, label)
        axes.set_title(title, fontsize=9)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        if ylim is not None:
            axes.set_ylim(*ylim)
        axes.legend(loc=legend, fontsize=7)
        axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=110)
