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

CHAINER_SCALE = np.float32(1.0 / 255.0)  # train_imagenet.py: image *= (1.0 / 255.0)


class ImageListError(ValueError):
    """A malformed image list, a missing or misshapen image, or a mean of the wrong shape."""


class Example(NamedTuple):
    path: str
    label: int


def parse_image_list(path: str | os.PathLike) -> list[Example]:
    """Lines of "path label" (Caffe ImageDataLayer / Chainer LabeledImageDataset format).

    Raises ImageListError naming the file and 1-based line for a line that is not exactly
    two whitespace-separated fields with an integer label.
    """
    examples = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            fields = line.strip().split()
            if len(fields) != 2 or not _is_int(fields[1]):
                raise ImageListError(f"{path}, line {number}: expected 'path label' with an integer label, "
                                     f"got {line.rstrip()!r}")
            examples.append(Example(fields[0], int(fields[1])))
    if not examples:
        raise ImageListError(f"{path}: the image list is empty")
    return examples


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, C) float32 pixel values as PIL gives them (greyscale becomes C = 1)."""
    if not os.path.isfile(path):
        raise ImageListError(f"image file not found: {path} (are the list paths relative to --root?)")
    with Image.open(path) as image:
        array = np.asarray(image, dtype=np.float32)
    return array[..., None] if array.ndim == 2 else array


def compute_mean(examples: Sequence[Example], root: str | os.PathLike = ".") -> np.ndarray:
    """Chainer compute_mean.py: the float32 sum of all images divided by their count, (C, H, W)."""
    total = None
    for example in examples:
        image = read_image(os.path.join(root, example.path))
        if total is None:
            total = np.zeros_like(image)
        elif image.shape != total.shape:
            raise ImageListError(f"{example.path} has shape {image.shape}, the first image {total.shape}; "
                                 "resize every image to the same size (256x256 RGB for the ImageNet example)")
        total += image
    return (total / len(examples)).transpose(2, 0, 1)


def load_mean(path: str | os.PathLike) -> np.ndarray:
    """A compute_mean.py file, (C, H, W), returned as (H, W, C) float32."""
    if not os.path.isfile(path):
        raise ImageListError(f"mean image file not found: {path} (make it with python -m experiments.compute_mean)")
    mean = np.load(path)
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
        path = os.path.join(self.root, self.examples[index].path)
        image = read_image(path)
        if image.shape != self.mean.shape:
            raise ImageListError(f"{path} has shape {image.shape} (H, W, C) but the mean image has "
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
