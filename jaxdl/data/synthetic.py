"""Synthetic classification data for benchmarking input-independent code paths."""

import numpy as np


def synthetic_images(count: int, height: int, width: int, channels: int, num_classes: int,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images (count, H, W, C) float32 ~ N(0, 1), labels (count,) int32 uniform in [0, classes))."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((count, height, width, channels), dtype=np.float32)
    return images, rng.integers(0, num_classes, count).astype(np.int32)
