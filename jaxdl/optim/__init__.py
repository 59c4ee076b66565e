"""Optimizers and gradient penalties written to the reference formulas, as optax transforms.

    tx = jaxdl.optim.create("chainer:adam", learning_rate=1e-3)
    tx = optax.chain(jaxdl.optim.coupled_l2(0.1), jaxdl.optim.create("course:sgd"))

Families: course (the book's common/optimizer.py), chainer (Chainer 7.8.1), notebook (the course
notebook 2_4's inline loops, as the study text shows them), optax (optax built-ins).
FORMULAS.md tabulates how they differ.
"""

from jaxdl.optim.registry import available, create, describe
from jaxdl.optim.regularizers import (
    chainer_lasso,
    chainer_weight_decay,
    coupled_l2,
    course_l1,
    course_l1_term,
    course_l2_term,
    weights_only_mask,
)

__all__ = [
    "available",
    "chainer_lasso",
    "chainer_weight_decay",
    "coupled_l2",
    "course_l1",
    "course_l1_term",
    "course_l2_term",
    "create",
    "describe",
    "weights_only_mask",
]
