"""Workloads by name: a model, its data and split, batch size, step budget, evaluation and target.

The split is fixed and the same for every workload: of a dataset's 60,000 training images the
last 10,000 (indices 50,000 .. 59,999) are the validation set, and training examples come only
from the first 50,000 (a workload may use the first N of them, as the course does). A workload
validates on the first `val_size` validation images; the test set (all 10,000 test images) is
used once, for the final report of every trial, and never for selection.

    mnist_mlp           course 2_4: MultiLayerNet [40, 20], sigmoid, W = 0.01 randn, batch 100, 1000 steps
    fashion_mnist_mlp   the same network on Fashion-MNIST
    mnist_simple_cnn    course 2_6: SimpleConvNet, first 5000 training images, batch 100, 1000 steps
    mnist_deep_cnn      course 2_8: DeepConvNet (course dropout), first 5000 training images, 1000 steps
    mnist_overfitting   course 2_5: MultiLayerNet [100] x 6, ReLU, He init, first 300 training images

Training uses the course's loss (SoftmaxWithLoss) and draws: seed s is np.random.RandomState(s), which
draws the initial weights, then every step's batch with replacement (`jaxdl.train.grid.seed_inputs`).
Targets are validation accuracies for steps-to-target (AlgoPerf measures time to a validation target).
The conv nets' sweeps run their trials x seeds one after another inside the program (member_axis
"map"; see `jaxdl.compare.sweep`), the MLPs' batched ("vmap"); --member-axis overrides.
"""

import os
import pathlib
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import numpy as np

from jaxdl.data.mnist import _load_tfds, load_idx_folder
from jaxdl.models import convnets, mlp
from jaxdl.train.run import Schedule

DATA_ROOT_ENV = "JAXDL_DATA_ROOT"
TRAIN_POOL = 50_000  # training examples come from indices [0, TRAIN_POOL)
VALIDATION = 10_000  # validation examples are indices [TRAIN_POOL, TRAIN_POOL + VALIDATION)


class Workload(NamedTuple):
    name: str
    title: str
    dataset: str  # jaxdl.data name: mnist, fashion_mnist
    model: Callable[[], nn.Module]
    init: Callable[[nn.Module, np.random.RandomState], dict]  # a network's variables from a seed's stream
    train_size: int  # the first N of the training pool
    val_size: int  # the first N of the validation split
    batch_size: int
    steps: int
    eval_every: int
    target: float  # validation accuracy for steps-to-target
    member_axis: str = "vmap"  # how a sweep runs its trials x seeds: "vmap" (batched) or "map" (one by one)

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.steps, self.batch_size, self.eval_every)


def _course_mlp() -> nn.Module:
    return mlp.MultiLayerNet(784, (40, 20), 10, activation="sigmoid", weight_init=0.01)


def _overfitting_mlp() -> nn.Module:
    return mlp.MultiLayerNet(784, (100,) * 6, 10, activation="relu", weight_init="He")


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("mnist_mlp", "MLP [40, 20] sigmoid, MNIST (course 2_4)", "mnist", _course_mlp, mlp.course_init,
             TRAIN_POOL, VALIDATION, 100, 1000, 50, 0.93),
    Workload("fashion_mnist_mlp", "MLP [40, 20] sigmoid, Fashion-MNIST", "fashion_mnist", _course_mlp,
             mlp.course_init, TRAIN_POOL, VALIDATION, 100, 1000, 50, 0.82),
    Workload("mnist_simple_cnn", "SimpleConvNet, 5000 MNIST images (course 2_6)", "mnist", convnets.SimpleConvNet,
             convnets.course_init, 5000, 1000, 100, 1000, 100, 0.95, "map"),
    Workload("mnist_deep_cnn", "DeepConvNet, 5000 MNIST images (course 2_8)", "mnist", convnets.DeepConvNet,
             convnets.course_init, 5000, 1000, 100, 1000, 100, 0.96, "map"),
    Workload("mnist_overfitting", "MLP [100] x 6 ReLU, 300 MNIST images (course 2_5)", "mnist", _overfitting_mlp,
             mlp.course_init, 300, VALIDATION, 100, 1000, 50, 0.75),
)}


def get(name: str) -> Workload:
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; workloads: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]


class Splits(NamedTuple):
    """Arrays (NumPy) of one workload: training, validation and test images and labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def data_root(root: str | os.PathLike | None) -> pathlib.Path | None:
    """`root`, else $JAXDL_DATA_ROOT, else None (TFDS)."""
    root = root if root is not None else os.environ.get(DATA_ROOT_ENV)
    return pathlib.Path(root) if root else None


def check_data_root(root: pathlib.Path | None, datasets: list[str]) -> None:
    """Refuse a root that lacks a listed dataset's subfolder, naming it and the fix."""
    if root is None:
        return
    if not root.is_dir():
        raise ValueError(f"--data-root {root} is not a folder; give the folder holding one subfolder per dataset "
                         f"({', '.join(datasets)}), e.g. ../shared/data")
    missing = [name for name in datasets if not (root / name).is_dir()]
    if missing:
        raise ValueError(f"--data-root {root} has no subfolder {', '.join(missing)}; each dataset's four IDX "
                         f"files go in ROOT/<dataset> (e.g. ../shared/data/{missing[0]})")


def load_splits(workload: Workload, root: pathlib.Path | None, cache: dict[str, Any] | None = None) -> Splits:
    """The workload's training examples, validation split and test set (module docstring), from
    root/<dataset> (IDX files) or TFDS; `cache` ({dataset: (train, test)}) avoids reading a dataset twice."""
    cache = {} if cache is None else cache
    if workload.dataset not in cache:
        cache[workload.dataset] = (load_idx_folder(root / workload.dataset) if root is not None
                                   else _load_tfds(workload.dataset))
    train, test = cache[workload.dataset]
    if len(train.labels) < TRAIN_POOL + VALIDATION:
        raise ValueError(f"{workload.dataset} has {len(train.labels)} training images; the split needs "
                         f"{TRAIN_POOL + VALIDATION}")
    val = slice(TRAIN_POOL, TRAIN_POOL + workload.val_size)
    return Splits(train.images[:workload.train_size], train.labels[:workload.train_size],
                  train.images[val], train.labels[val], test.images, test.labels)
