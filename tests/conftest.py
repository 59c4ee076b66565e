"""Shared test fixtures: the offline MNIST copy in ../shared/data/mnist."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
    """Folder holding the four MNIST IDX files (JAXDL_DATA_DIR, else ../shared/data/mnist)."""
    path = pathlib.Path(os.environ.get("JAXDL_DATA_DIR", SHARED_MNIST))
    if not (path / "train-images-idx3-ubyte.gz").exists() and not (path / "train-images-idx3-ubyte").exists():
        pytest.fail(f"MNIST IDX files not found in {path}; set JAXDL_DATA_DIR to a folder holding them")
    return path
