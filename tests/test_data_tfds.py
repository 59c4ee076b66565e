"""The TFDS fallback of jaxdl.data.load, offline: TFDS prepares MNIST in a temporary data_dir from
the local archives (../shared/data/mnist) and its arrays equal the IDX loader's.

TFDS looks for an archive in `<download_dir>/manual/<registered file name>` before downloading it,
then checks it against the size and sha256 it registers for the URL. Nothing here touches the
installed tensorflow_datasets package; the network is refused for the whole test.
"""

import gzip
import hashlib
import socket

import numpy as np
import pytest

from jaxdl import data
from jaxdl.data import mnist

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip(
    "importlib_resources",
    reason="TFDS 4.9.x imports importlib_resources, missing here: pip install -r requirements.txt",
)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt (TFDS downloading, jaxdl's probe) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the offline TFDS test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(mnist, "network_reachable", refuse)


def _registered_mnist_infos() -> dict:
    """{url: UrlInfo(size, sha256, file name)} that TFDS registers for MNIST's four archives."""
    return dict(type(tfds.builder("mnist")).url_infos)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _place_archives(mnist_dir, manual) -> None:
    """The four .gz archives into TFDS's manual folder under the names TFDS registers
    (gzipping raw IDX files when the folder holds those)."""
    manual.mkdir(parents=True)
    for info in _registered_mnist_infos().values():
        archive = mnist_dir / info.filename
        if archive.is_file():
            (manual / info.filename).write_bytes(archive.read_bytes())
        else:
            with gzip.open(manual / info.filename, "wb", compresslevel=1) as f:
                f.write((mnist_dir / info.filename.removesuffix(".gz")).read_bytes())


def _pairs_in_canonical_order(split: mnist.Split) -> tuple[np.ndarray, np.ndarray]:
    """The split's (image, label) pairs sorted by their bytes: equal results mean the same pairs
    with the same multiplicities, whatever the order."""
    n = len(split.labels)
    rows = np.concatenate([split.images.reshape(n, -1).view(np.uint8), split.labels.reshape(n, 1).view(np.uint8)], 1)
    order = np.argsort(np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")
    return split.images[order], split.labels[order]


@pytest.fixture
def archives_at_hand(mnist_dir, tmp_path, monkeypatch):
    """TFDS's download folder with the four archives in its manual folder; when they are not the
    registered bytes (re-gzipped copies: TFDS would reject them with NonMatchingChecksumError),
    their own checksums are registered for the test, in memory only."""
    download_dir = tmp_path / "downloads"
    _place_archives(mnist_dir, download_dir / "manual")
    registered = _registered_mnist_infos()
    local = {
        url: tfds.download.checksums.compute_url_info(download_dir / "manual" / info.filename)
        for url, info in registered.items()
    }
    if local != registered:
        monkeypatch.setattr(type(tfds.builder("mnist")), "url_infos", local)
    return download_dir


def test_archives_at_hand_need_no_network(archives_at_hand, tmp_path, no_network):
    """jaxdl skips its network probe, and TFDS's download manager resolves each URL to the archive."""
    builder = tfds.builder("mnist", data_dir=tmp_path / "tfds")
    assert mnist._downloads_at_hand(builder, archives_at_hand)
    assert not mnist._downloads_at_hand(builder, None)
    manager = tfds.download.DownloadManager(
        download_dir=archives_at_hand, manual_dir=archives_at_hand / "manual", url_infos=builder.url_infos
    )
    paths = manager.download({info.filename: url for url, info in builder.url_infos.items()})
    assert {name: path.name for name, path in paths.items()} == {name: name for name in paths}
    (archives_at_hand / "manual" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert not mnist._downloads_at_hand(builder, archives_at_hand)


@pytest.mark.slow  # TFDS encodes all 70,000 images as PNG records: ~25 s of CPU however it is called
def test_tfds_fallback_offline_equals_the_idx_loader(archives_at_hand, mnist_dir, tmp_path, no_network):
    tfds_train, tfds_test = mnist._load_tfds("mnist", tfds_data_dir=tmp_path / "tfds", download_dir=archives_at_hand)
    idx_train, idx_test = data.load("mnist", mnist_dir)

    for got, want in ((tfds_train, idx_train), (tfds_test, idx_test)):
        assert got.images.dtype == np.float32 and got.labels.dtype == np.int32
        assert got.images.shape == want.images.shape and got.labels.shape == want.labels.shape
        assert got.images.min() >= 0.0 and got.images.max() <= 1.0
        # TFDS writes the examples in an order of its own (it shuffles them by a hash of their keys),
        # so the pairs are compared in a canonical order: exactly the same pixels and labels.
        for a, b in zip(_pairs_in_canonical_order(got), _pairs_in_canonical_order(want), strict=True):
            np.testing.assert_array_equal(a, b)
