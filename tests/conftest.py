"""Shared test constants and fixtures: the repository root, the PNG signature, the committed
fixtures folder, the offline MNIST copy (../shared/data/mnist), and JAX's persistent compilation
cache for the test session.

The cache: many tests compile the same program (the same model and step built again in another
test, or by a CLI run twice); XLA then compiles it once per session and reads it back from
`.jax_cache/` at the repository root (git ignores it) after that, and a second local run starts
warm. A JAX_COMPILATION_CACHE_DIR already set wins; the settings go into the environment too, so
the `python -m` subprocesses the tests start share the cache. `rm -rf .jax_cache` empties it.
"""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n"  # the first 8 bytes of every PNG file

JAX_CACHE = {  # jax.config names; the environment holds the same in upper case
    "jax_compilation_cache_dir": str(REPO / ".jax_cache"),
    "jax_persistent_cache_min_compile_time_secs": 0.0,  # every program, however fast it compiles
    "jax_persistent_cache_min_entry_size_bytes": -1,  # however small
}
for _name, _value in JAX_CACHE.items():
    JAX_CACHE[_name] = type(_value)(os.environ.setdefault(_name.upper(), str(_value)))

import jax  # noqa: E402  (after the environment above, before any test compiles)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

for _name, _value in JAX_CACHE.items():
    jax.config.update(_name, _value)


SKIP_DATA_TESTS = "JAXDL_SKIP_DATA_TESTS"


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
    """Folder holding the four MNIST IDX files (JAXDL_DATA_DIR, else ../shared/data/mnist).

    Without them the tests that need MNIST fail, naming JAXDL_DATA_DIR; they are skipped instead
    only when asked: JAXDL_SKIP_DATA_TESTS=1 (for a machine without the data, on purpose)."""
    path = pathlib.Path(os.environ.get("JAXDL_DATA_DIR", SHARED_MNIST))
    if not (path / "train-images-idx3-ubyte.gz").exists() and not (path / "train-images-idx3-ubyte").exists():
        message = f"MNIST IDX files not found in {path}; set JAXDL_DATA_DIR to a folder holding them"
        if os.environ.get(SKIP_DATA_TESTS) == "1":
            pytest.skip(f"{message} ({SKIP_DATA_TESTS}=1)")
        pytest.fail(message)
    return path


@pytest.fixture(scope="session")
def alex_chainer_weights() -> dict:
    """Every AlexNet parameter in Chainer's layouts, chainer_alex_weights(0): the weights the
    Chainer fixtures were made with (61M float32 draws, seconds of NumPy; drawn once)."""
    from tests.fixtures.alex_weights import chainer_alex_weights

    return chainer_alex_weights(0)


@pytest.fixture(scope="session")
def alex_chainer_file(alex_chainer_weights, tmp_path_factory) -> pathlib.Path:
    """alex_chainer_weights written as Chainer's save_npz would (np.savez of the Chainer keys)."""
    path = tmp_path_factory.mktemp("alex") / "alex.npz"
    np.savez(path, **alex_chainer_weights)
    return path


@pytest.fixture(scope="session")
def alex_chainer_state(alex_chainer_file):
    """alex_chainer_file read by jaxdl.chainer.load_npz (arch "alex"), for the tests that only
    read the state (each load converts 244 MB of layouts)."""
    import jaxdl.chainer

    return jaxdl.chainer.load_npz(alex_chainer_file, arch="alex")
