"""Chainer-style image lists ("path label" lines) and the ImageNet example's preprocessing.

Images are read as Chainer's LabeledImageDataset reads them (PIL, float32, values 0..255)
but kept in H, W, C order; the mean image is stored on disk as Chainer's compute_mean.py
writes it, (C, H, W) float32, and transposed once when loaded.
"""

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from PIL import Image

from jaxdl import _validate
from jaxdl._validate import NPY_MAGIC

CHAINER_SCALE = np.float32(1.0 / 255.0)  # train_imagenet.py: image *= (1.0 / 255.0)


class ImageListError(ValueError):
    """A malformed image list, a missing or misshapen image, or a mean of the wrong shape."""


class Example(NamedTuple):
    path: str
    label: int


class ListedExample(Example):
    """An Example that also knows where its list names it (`source`, "list.txt, line 3"), for errors."""

    source: str

    def __new__(cls, path: str, label: int, source: str) -> "ListedExample":
        example = super().__new__(cls, path, label)
        example.source = source
        return example


def _at(example: Example) -> str:
    """" (list.txt, line 3)" for an example parse_image_list read, else ""."""
    source = getattr(example, "source", None)
    return f" ({source})" if source else ""


def parse_image_list(path: str | os.PathLike, num_classes: int | None = None) -> list[Example]:
    """Lines of "path label" (Caffe ImageDataLayer / Chainer LabeledImageDataset format).

    Raises ImageListError naming the file and 1-based line for a line that is not exactly
    two whitespace-separated fields with a non-negative integer label (below `num_classes`
    when given). The examples remember their line for later errors (e.g. an unreadable image).
    """
    examples = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            fields = line.strip().split()
            if len(fields) != 2 or not _is_int(fields[1]) or int(fields[1]) < 0:
                raise ImageListError(f"{path}, line {number}: expected 'path label' with a non-negative integer "
                                     f"label (a class index), got {line.rstrip()!r}")
            label = int(fields[1])
            if num_classes is not None and label >= num_classes:
                raise ImageListError(f"{path}, line {number}: label {label} is not a class of the model, "
                                     f"which has {num_classes} (labels 0 to {num_classes - 1})")
            examples.append(ListedExample(fields[0], label, f"{path}, line {number}"))
    if not examples:
        raise ImageListError(f"{path}: the image list is empty")
    return examples


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def read_image(path: str | os.PathLike, where: str = "") -> np.ndarray:
    """(H, W, C) float32 pixel values as PIL gives them (greyscale becomes C = 1).

    A missing file or one PIL cannot decode raises ImageListError naming it (and `where`,
    e.g. " (train.txt, line 3)").
    """
    if not os.path.isfile(path):
        raise ImageListError(f"image file not found: {path}{where} (are the list paths relative to --root?)")
    try:
        with Image.open(path) as image:
            array = np.asarray(image, dtype=np.float32)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageListError(f"{path}{where} is not an image PIL can read ({type(error).__name__}: {error}); "
                             "the list should name image files (PNG, JPEG, ...)") from error
    if array.ndim not in (2, 3):
        raise ImageListError(f"{path}{where} decodes to an array of shape {array.shape}, not an (H, W[, C]) image")
    return array[..., None] if array.ndim == 2 else array


def compute_mean(examples: Sequence[Example], root: str | os.PathLike = ".") -> np.ndarray:
    """Chainer compute_mean.py: the float32 sum of all images divided by their count, (C, H, W).

    Every image must have the size of the first: the first that differs raises ImageListError
    naming it, its size and the expected one.
    """
    if not examples:
        raise ImageListError("compute_mean needs at least one image, got an empty list")
    total, first = None, None
    for example in examples:
        path = os.path.join(root, example.path)
        image = read_image(path, _at(example))
        if total is None:
            total, first = np.zeros_like(image), path
        elif image.shape != total.shape:
            raise ImageListError(f"{path}{_at(example)} has shape {image.shape} (H, W, C), but the images must all "
                                 f"have the first one's shape {total.shape} ({first}); resize every image to the "
                                 "same size (256x256 RGB for the ImageNet example)")
        total += image
    return (total / len(examples)).transpose(2, 0, 1)


def load_mean(path: str | os.PathLike) -> np.ndarray:
    """A compute_mean.py file, (C, H, W), returned as (H, W, C) float32."""
    if not os.path.isfile(path):
        raise ImageListError(f"mean image file not found: {path} (make it with python -m experiments.compute_mean)")
    with open(path, "rb") as f:
        if f.read(6) != NPY_MAGIC:
            raise ImageListError(f"{path} is not a .npy array; the mean image should be the (C, H, W) .npy file "
                                 "that python -m experiments.compute_mean writes")
    try:
        mean = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ImageListError(f"{path} cannot be read as the mean image ({error}); make it again with "
                             "python -m experiments.compute_mean") from error
    if mean.ndim != 3:
        raise ImageListError(f"mean image {path} has shape {mean.shape}; expected (C, H, W) as compute_mean writes")
    return np.ascontiguousarray(mean.astype(np.float32).transpose(1, 2, 0))


def chainer_random_crop(rng: np.random.Generator, height: int, width: int, crop_size: int) -> tuple[int, int, bool]:
    """(top, left, flip) drawn as PreprocessedDataset draws them, in that order."""
    # Chainer: random.randint(0, h - crop_size - 1) is inclusive, so the last offset is never drawn
    top = int(rng.integers(0, height - crop_size, endpoint=False))
    left = int(rng.integers(0, width - crop_size, endpoint=False))
    flip = bool(rng.integers(0, 1, endpoint=True))  # Chainer: random.randint(0, 1)
    return top, left, flip


def center_crop(height: int, width: int, crop_size: int) -> tuple[int, int]:
    """Chainer's validation offsets ((h - crop) // 2, (w - crop) // 2): 14 for 256 -> 227."""
    return (height - crop_size) // 2, (width - crop_size) // 2


def crop_and_normalize(image: np.ndarray, mean: np.ndarray, top: int, left: int, crop_size: int,
                       flip: bool = False) -> np.ndarray:
    """(image[crop] - mean[crop]) * (1/255) in float32, (crop, crop, C).

    Chainer flips the whole image horizontally before cropping and crops the (unflipped)
    mean at the same window.
    """
    if flip:
        image = image[:, ::-1]
    window = (slice(top, top + crop_size), slice(left, left + crop_size))
    return (image[window] - mean[window]) * CHAINER_SCALE


class ImageListDataset:
    """An image list preprocessed like train_imagenet.py's PreprocessedDataset, batch-wise.

    `batch(indices, rngs)` reads and crops the listed images with `workers` threads: a
    random crop and flip per example from its rng (training), or the centre crop when rngs
    is None (validation). Returns (x (B, crop, crop, C) float32, labels (B,) int32).
    """

    def __init__(self, examples: Sequence[Example], root: str | os.PathLike, mean: np.ndarray,
                 crop_size: int, workers: int = 1):
        crop_size = _validate.integer("ImageListDataset", "crop_size", crop_size, minimum=1)
        _validate.integer("ImageListDataset", "workers", workers, minimum=1)
        if mean.shape[0] < crop_size or mean.shape[1] < crop_size:
            raise ImageListError(f"mean image is {mean.shape[:2]}, smaller than the crop {crop_size}")
        self.examples = list(examples)
        self.root = root
        self.mean = mean
        self.crop_size = crop_size
        self.labels = np.array([e.label for e in self.examples], dtype=np.int32)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.example(0, None)  # fail now, not after model setup, on a missing or misshapen first image

    def __len__(self) -> int:
        return len(self.examples)

    def example(self, index: int, rng: np.random.Generator | None) -> np.ndarray:
        """The preprocessed image `index`, (crop, crop, C) float32."""
        path, where = os.path.join(self.root, self.examples[index].path), _at(self.examples[index])
        image = read_image(path, where)
        if image.shape != self.mean.shape:
            raise ImageListError(f"{path}{where} has shape {image.shape} (H, W, C) but the mean image has "
                                 f"{self.mean.shape}; images must be RGB of the mean's size (256x256 for ImageNet)")
        height, width = image.shape[:2]
        if rng is None:
            top, left, flip = *center_crop(height, width, self.crop_size), False
        else:
            top, left, flip = chainer_random_crop(rng, height, width, self.crop_size)
        return crop_and_normalize(image, self.mean, top, left, self.crop_size, flip)

    def batch(self, indices: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        rngs = [None] * len(indices) if rngs is None else rngs
        images = list(self._pool.map(self.example, indices, rngs))
        return np.stack(images), self.labels[indices]
