"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun's ubyte files, raw or gzipped)."""

import gzip
import pathlib

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


class DataFileError(ValueError):
    """A data file exists but its contents are not what the format promises."""


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DataFileError(f"{path}: cannot be read ({e}); replace it with an intact copy") from e


def read_idx(path: pathlib.Path, magic: int) -> np.ndarray:
    """Parse one IDX file: big-endian int32 magic, int32 sizes, then uint8 payload."""
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found is not None and found != magic:
        raise DataFileError(
            f"{path}: wrong magic number {found} (expected {magic}); "
            "is this an IDX file of the right kind (images vs labels)?"
        )
    if len(data) < header:
        raise DataFileError(f"{path}: truncated header ({len(data)} bytes); replace it with an intact copy")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    payload = len(data) - header
    if payload != expected:
        raise DataFileError(
            f"{path}: holds {payload} payload bytes but its header promises {expected} "
            f"(shape {shape}); the file is truncated or corrupt, replace it"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_file(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    """The file `stem` in `folder`, gzipped or raw, or None."""
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None
