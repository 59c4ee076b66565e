"""The course's batch sampler, drawn on the host so compiled runs take batches as data."""

import numpy as np


def course_indices(rng: np.random.RandomState, steps: int, n: int, batch_size: int) -> np.ndarray:
    """[steps, batch_size] int32 indices: the course's `np.random.choice(train_size, batch_size)`
    once per step, drawn with replacement from `rng` (one bulk draw gives the same sequence)."""
    return rng.choice(n, (steps, batch_size)).astype(np.int32)
