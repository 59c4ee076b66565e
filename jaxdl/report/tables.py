"""Markdown tables."""

from collections.abc import Sequence

import numpy as np


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """'m ± s' over seeds (population std), or just 'm' for one value."""
    values = np.asarray(values, np.float64)
    if values.size == 1:
        return f"{values.item():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
