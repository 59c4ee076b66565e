"""The MNIST-format loader on the offline copy, on raw and corrupt files, and offline TFDS."""

import gzip
import shutil
import time

import numpy as np
import pytest

from jaxdl import data
from jaxdl.data import mnist

# Published MNIST facts (LeCun et al.; ../shared/data/mnist/README.md).
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_offline_mnist_matches_published_facts(mnist_dir):
    train, test = data.load("mnist", mnist_dir)
    assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
    assert train.images.dtype == np.float32 and train.labels.dtype == np.int32
    assert 0.0 <= train.images.min() and train.images.max() == 1.0
    np.testing.assert_array_equal(np.bincount(train.labels), TRAIN_LABEL_COUNTS)
    np.testing.assert_array_equal(np.bincount(test.labels), TEST_LABEL_COUNTS)
    assert abs(train.images.mean() * 255 - 33.3184) < 1e-3
    assert abs(test.images.mean() * 255 - 33.7912) < 1e-3


def test_environment_variable_names_the_folder(mnist_dir, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mnist_dir))
    train, _ = data.load("mnist")
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.fixture
def small_idx(tmp_path):
    """A folder of four raw (uncompressed) IDX files: 5 train and 3 test images."""
    rng = np.random.default_rng(0)

    def write(name, magic, array):
        header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
        (tmp_path / name).write_bytes(header + array.astype(np.uint8).tobytes())

    for split, n in (("train", 5), ("t10k", 3)):
        write(f"{split}-images-idx3-ubyte", 2051, rng.integers(0, 256, (n, 28, 28)))
        write(f"{split}-labels-idx1-ubyte", 2049, rng.integers(0, 10, n))
    return tmp_path


def test_raw_files_load_and_scale_to_unit_interval(small_idx):
    train, test = data.load("mnist", small_idx)
    raw = np.frombuffer((small_idx / "train-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    np.testing.assert_array_equal(train.images.reshape(-1), raw.astype(np.float32) / 255)
    assert train.images.shape == (5, 28, 28, 1) and test.labels.shape == (3,)


def test_wrong_magic_names_the_file(small_idx):
    shutil.copy(small_idx / "train-labels-idx1-ubyte", small_idx / "train-images-idx3-ubyte")
    with pytest.raises(data.DataFileError, match=r"train-images-idx3-ubyte: wrong magic number 2049 \(expected 2051\)"):
        data.load("mnist", small_idx)


def test_truncated_file_names_the_file(small_idx):
    path = small_idx / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    message = "t10k-images-idx3-ubyte: holds 2342 payload bytes but its header promises 2352"
    with pytest.raises(data.DataFileError, match=message):
        data.load("mnist", small_idx)


def test_count_mismatch_names_both_files(small_idx):
    path = small_idx / "train-labels-idx1-ubyte"
    path.write_bytes((2049).to_bytes(4, "big") + (4).to_bytes(4, "big") + bytes(4))
    with pytest.raises(data.DataFileError, match="holds 5 images but .*train-labels-idx1-ubyte holds 4 labels"):
        data.load("mnist", small_idx)


def test_corrupt_gzip_names_the_file(small_idx):
    (small_idx / "train-images-idx3-ubyte").unlink()
    (small_idx / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all")
    with pytest.raises(data.DataFileError, match=r"train-images-idx3-ubyte.gz: cannot be read"):
        data.load("mnist", small_idx)


def test_gzip_and_raw_give_the_same_arrays(small_idx, tmp_path_factory):
    zipped = tmp_path_factory.mktemp("zipped")
    for path in small_idx.iterdir():
        with gzip.open(zipped / (path.name + ".gz"), "wb") as f:
            f.write(path.read_bytes())
    for a, b in zip(data.load("mnist", small_idx), data.load("mnist", zipped), strict=True):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_missing_file_lists_what_is_needed(small_idx):
    (small_idx / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataNotFoundError, match="lacks t10k-labels-idx1-ubyte"):
        data.load("mnist", small_idx)


def test_missing_folder_and_unknown_name(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="does not exist"):
        data.load("mnist", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; choose one of"):
        data.load("cifar10", tmp_path)


def test_offline_without_local_copy_fails_fast_naming_both_fixes(tmp_path, monkeypatch):
    """No folder given and no network: an error within seconds, not minutes of TFDS retries."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mnist, "network_reachable", lambda host, port: False)
    started = time.perf_counter()
    with pytest.raises(data.DataNotFoundError, match=r"--data-dir DIR or \$JAXDL_DATA_DIR=DIR.*network access"):
        data.load("fashion_mnist")
    assert time.perf_counter() - started < 10


def test_network_probe_is_bounded():
    started = time.perf_counter()
    mnist.network_reachable("192.0.2.1", 9, timeout=0.5)  # TEST-NET-1: never routed
    assert time.perf_counter() - started < 2
