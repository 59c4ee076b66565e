"""Statistics of a sweep: confidence intervals over seeds, steps to a target, trial selection.

Pure NumPy functions of arrays shaped [seeds, trials, ...].
"""

import math

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95


def t_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, int]:
    """(mean, half-width, n) of the Student-t confidence interval of the mean of `values` (NaNs dropped):
    mean +- t_{(1 + level) / 2, n - 1} * s / sqrt(n), s the sample standard deviation (ddof = 1).
    The half-width is NaN for n < 2 (no spread to estimate), and everything NaN for n = 0."""
    values = np.asarray(values, np.float64).ravel()
    values = values[~np.isnan(values)]
    n = values.size
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, 1
    half = float(scipy_stats.t.ppf((1 + level) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, half, n


def steps_to_target(curves: np.ndarray, eval_steps: np.ndarray, target: float) -> np.ndarray:
    """Per run (curves [..., evals] of validation accuracy): the first evaluation step whose accuracy is
    >= target, +inf when none is (AlgoPerf: a run that never reaches the target takes infinite time).
    NaN accuracies (diverged runs) never reach it."""
    curves = np.asarray(curves, np.float64)
    reached = np.nan_to_num(curves, nan=-np.inf) >= target
    first = np.asarray(eval_steps, np.float64)[reached.argmax(axis=-1)]
    return np.where(reached.any(axis=-1), first, np.inf)


def study_time(per_run: np.ndarray) -> float:
    """AlgoPerf's time to target of a workload from per-run times [studies, trials]: each study's fastest
    trial (min over trials), then the median over studies; +inf when that median is.
    Here a study is a seed: the K trials of seed s share its initial weights and batches."""
    per_study = np.min(np.asarray(per_run, np.float64), axis=-1)
    return float(np.median(per_study))


def selection_scores(val_final: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """[trials]: mean over seeds of each trial's final validation accuracy, a diverged run counting 0."""
    values = np.where(np.asarray(diverged, bool), 0.0, np.nan_to_num(np.asarray(val_final, np.float64), nan=0.0))
    return values.mean(axis=0)


def select_trial(val_final: np.ndarray, diverged: np.ndarray) -> int:
    """The trial with the best `selection_scores` (validation only; the lowest index among ties)."""
    return int(np.argmax(selection_scores(val_final, diverged)))
