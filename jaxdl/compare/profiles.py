"""AlgoPerf's performance profiles and scores across workloads.

For submission (optimizer) o and workload w with time to target t[w, o] (+inf when not reached),
the performance ratio is r[w, o] = t[w, o] / min_o' t[w, o'] (+inf for every o when no optimizer
reaches the target). The profile is rho_o(tau) = (1 / W) * #{w : r[w, o] <= tau}: the fraction of
workloads on which o is within a factor tau of the fastest. The score integrates it, normalized,
up to tau_max = 4 (AlgoPerf's r_max; ratios above it count as never reached):

    B_o = 1 / (tau_max - 1) * integral_1^tau_max rho_o(tau) dtau
        = 1 / W * sum_w max(0, tau_max - r[w, o]) / (tau_max - 1)

so 1 means fastest on every workload and 0 means never within tau_max of the fastest.
"""

import numpy as np

TAU_MAX = 4.0


def ratios(times: np.ndarray) -> np.ndarray:
    """r [W, O] from times [W, O] (module docstring)."""
    times = np.asarray(times, np.float64)
    best = times.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = times / best
    return np.where(np.isfinite(best) & np.isfinite(times), r, np.inf)


def profile(r: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rho [len(taus), O]: the fraction of workloads (rows of r) with r[w, o] <= tau."""
    r = np.asarray(r, np.float64)
    return (r[None, :, :] <= np.asarray(taus, np.float64)[:, None, None]).mean(axis=1)


def scores(r: np.ndarray, tau_max: float = TAU_MAX) -> np.ndarray:
    """B [O]: the normalized area under each profile from 1 to tau_max (exact, module docstring)."""
    r = np.asarray(r, np.float64)
    return (np.clip(tau_max - r, 0.0, None) / (tau_max - 1)).mean(axis=0)
