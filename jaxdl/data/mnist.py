"""MNIST-format datasets as arrays: local IDX files first, TFDS otherwise.

`load(name)` returns ((x_train, y_train), (x_test, y_test)) with images float32 in [0, 1]
of shape (N, 28, 28, 1) and labels int32, the book's `load_mnist(normalize=True)` values
(x / 255) in NHWC layout.
"""

import os
import pathlib
import socket
from typing import NamedTuple

import numpy as np

from jaxdl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, DataFileError, find_idx_file, read_idx

DATA_DIR_ENV = "JAXDL_DATA_DIR"
IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where TFDS downloads each dataset from; probed before TFDS is asked, so offline fails fast.
TFDS_SOURCES = {
    "mnist": ("storage.googleapis.com", 443),
    "fashion_mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
}
PROBE_TIMEOUT_S = 3.0


class DataNotFoundError(FileNotFoundError):
    """No local copy of a dataset and no way to fetch one."""


class Split(NamedTuple):
    images: np.ndarray  # (N, 28, 28, 1) float32 in [0, 1]
    labels: np.ndarray  # (N,) int32


def load(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Load `name` ("mnist" | "fashion_mnist") as (train, test) splits.

    Sources, first match wins: `data_dir`; the folder in $JAXDL_DATA_DIR; TFDS (downloads
    and caches on first use; needs the network and tensorflow).
    """
    if not isinstance(name, str) or name not in TFDS_SOURCES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(TFDS_SOURCES)}")
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if folder is not None:
        return load_idx_folder(pathlib.Path(folder))
    return _load_tfds(name)


def load_idx_folder(folder: pathlib.Path) -> tuple[Split, Split]:
    """Read the four standard IDX files (.gz or raw) from `folder`."""
    if not folder.is_dir():
        raise DataNotFoundError(f"data folder {folder} does not exist; pass a folder holding the four IDX files")
    splits = []
    for _split, (image_stem, label_stem) in IDX_STEMS.items():
        image_path = find_idx_file(folder, image_stem)
        label_path = find_idx_file(folder, label_stem)
        for stem, path in ((image_stem, image_path), (label_stem, label_path)):
            if path is None:
                raise DataNotFoundError(
                    f"{folder} lacks {stem}(.gz); it needs the four IDX files "
                    f"{', '.join(s for pair in IDX_STEMS.values() for s in pair)}"
                )
        images = read_idx(image_path, IMAGES_MAGIC)
        labels = read_idx(label_path, LABELS_MAGIC)
        if images.shape[0] != labels.shape[0]:
            raise DataFileError(
                f"{image_path} holds {images.shape[0]} images but {label_path} holds "
                f"{labels.shape[0]} labels; the two files are from different sets"
            )
        splits.append(_as_split(images, labels))
    return splits[0], splits[1]


def _as_split(images: np.ndarray, labels: np.ndarray) -> Split:
    images = images.reshape(images.shape[0], images.shape[1], images.shape[2], -1)
    return Split(images.astype(np.float32) / np.float32(255.0), labels.astype(np.int32))


def network_reachable(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_tfds(
    name: str, tfds_data_dir: str | os.PathLike | None = None, download_dir: str | os.PathLike | None = None
) -> tuple[Split, Split]:
    """`name` through TFDS, prepared in `tfds_data_dir` (default: TFDS's own, $TFDS_DATA_DIR or
    ~/tensorflow_datasets). `download_dir` is TFDS's download folder (default: its own); archives
    already in its `manual` subfolder under the names TFDS registers are used instead of the network.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=tfds_data_dir)
    if (
        not builder.is_prepared()
        and not _downloads_at_hand(builder, download_dir)
        and not network_reachable(*TFDS_SOURCES[name])
    ):
        raise DataNotFoundError(
            f"no local copy of {name!r} and no network to download it with TFDS. Either pass "
            f"the folder holding the four IDX files (--data-dir DIR or ${DATA_DIR_ENV}=DIR, e.g. "
            f"../shared/data/mnist), or run once with network access so TFDS caches it in {builder.data_dir}"
        )
    try:
        train, test = tfds.load(
            name,
            split=["train", "test"],
            data_dir=tfds_data_dir,
            batch_size=-1,
            as_supervised=True,
            download_and_prepare_kwargs={"download_dir": download_dir},
        )
    except Exception as e:  # TFDS raises many types; all mean the same thing to the user
        raise DataNotFoundError(
            f"TFDS could not provide {name!r} ({type(e).__name__}: {e}); pass a folder of IDX files "
            f"with --data-dir or ${DATA_DIR_ENV}"
        ) from e
    return tuple(_as_split(np.asarray(x), np.asarray(y)) for x, y in tfds.as_numpy([train, test]))


def _downloads_at_hand(builder, download_dir: str | os.PathLike | None) -> bool:
    """Whether every archive `builder` downloads is already in `download_dir`/manual."""
    if download_dir is None:
        return False
    url_infos = builder.url_infos or {}
    manual = pathlib.Path(download_dir) / "manual"
    return bool(url_infos) and all(info.filename and (manual / info.filename).is_file() for info in url_infos.values())
