"""TFDS image-classification datasets exported as Chainer-style image lists.

The ImageNet example expects "path label" lists of 256x256 RGB images; `export_image_lists`
writes a TFDS dataset in that form (centre square crop, resize, JPEG) so the same training
code runs on it. TFDS downloads on first use, so this needs internet once; offline it fails
at once with a TfdsUnavailable that says so.
"""

import os
from collections.abc import Sequence
from types import ModuleType

import numpy as np
from PIL import Image

from jaxdl.atomic import atomic_write


class TfdsUnavailable(RuntimeError):
    """TFDS is not installed, does not know the dataset, or could not download it."""


def _tfds() -> ModuleType:
    try:
        import tensorflow_datasets
    except ImportError as error:
        raise TfdsUnavailable("--tfds needs tensorflow-datasets: pip install tensorflow-datasets") from error
    return tensorflow_datasets


def square_resize(image: np.ndarray, size: int) -> Image.Image:
    """Centre square crop of an (H, W[, C]) uint8 image, resized to size x size RGB."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.squeeze(image[top:top + side, left:left + side]))
    return square.convert("RGB").resize((size, size), Image.BILINEAR)


def export_image_lists(name: str, out_dir: str | os.PathLike, splits: Sequence[str] = ("train", "validation"),
                       size: int = 256, data_dir: str | None = None) -> dict[str, str]:
    """Write out_dir/<split>/<i>.jpg and out_dir/<split>.txt ("<split>/<i>.jpg label") per split.

    Returns {split: list path}; list paths are relative to out_dir (pass it as --root).
    Splits already exported (their list file exists) are kept as they are.
    """
    tfds = _tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except tfds.core.registered.DatasetNotFoundError as error:
        raise TfdsUnavailable(f"TFDS has no dataset {name!r} (e.g. imagenette/320px, imagenet2012)") from error
    try:
        builder.download_and_prepare()
    except Exception as error:  # noqa: BLE001 - any download failure gets the same advice
        raise TfdsUnavailable(
            f"TFDS could not download and prepare {name!r} ({type(error).__name__}: {error}). It needs internet "
            "on first use; offline, pass train and val image lists ('path label' lines of 256x256 RGB images)"
        ) from error
    image_key, label_key = builder.info.supervised_keys
    lists = {}
    for split in splits:
        list_path = os.path.join(out_dir, f"{split}.txt")
        lists[split] = list_path
        if os.path.exists(list_path):
            continue
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        lines = []
        for index, example in enumerate(builder.as_data_source(split=split)):
            relative = f"{split}/{index}.jpg"
            square_resize(np.asarray(example[image_key]), size).save(os.path.join(out_dir, relative), quality=95)
            lines.append(f"{relative} {int(example[label_key])}\n")
        with atomic_write(list_path, "w") as f:
            f.writelines(lines)
    return lists
