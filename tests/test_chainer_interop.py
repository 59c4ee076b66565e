"""jaxdl.chainer: Chainer npz files in and out, layouts, and clear errors."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.chainer
from jaxdl.chainer import ChainerFileError, layouts
from jaxdl.reference import course_convnet
from tests.conftest import FIXTURES
from tests.fixtures.alex_weights import ALEX_SHAPES

REF = np.load(FIXTURES / "alexnet.npz")
SNAPSHOT_PREFIX = "updater/model:main/"


@pytest.fixture(scope="module")
def state(alex_chainer_state):
    """load_npz of conftest's alex_chainer_file (chainer_alex_weights(0) as Chainer writes
    them), read once: the tests here only read it."""
    return alex_chainer_state


def fixture_layout() -> dict[str, tuple[int, ...]]:
    """param_names -> shapes as Chainer's save_npz wrote them (shapes padded with -1)."""
    return {str(name): tuple(int(d) for d in shape if d >= 0)
            for name, shape in zip(REF["param_names"], REF["param_shapes"], strict=True)}


def test_conv_layout_computes_chainer_convolution():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)  # Chainer (out, in, kh, kw)
    b = rng.standard_normal(4).astype(np.float32)
    conv = nn.Conv(4, (3, 3), strides=2, padding=((1, 1), (1, 1)))
    params = {"kernel": layouts.conv_kernel_from_chainer(w), "bias": b}
    y = conv.apply({"params": params}, jnp.asarray(x.transpose(0, 2, 3, 1)))
    expected = course_convnet.Convolution(w.astype(np.float64), b.astype(np.float64), stride=2, pad=1).forward(
        x.astype(np.float64))
    np.testing.assert_allclose(np.asarray(y).transpose(0, 3, 1, 2), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layouts.conv_kernel_to_chainer(params["kernel"]), w)


def test_linear_layout_reorders_the_chw_flatten():
    rng = np.random.default_rng(1)
    feature_map = rng.standard_normal((2, 5, 3, 4)).astype(np.float32)  # NCHW, as Chainer sees it
    w = rng.standard_normal((7, 5 * 3 * 4)).astype(np.float32)  # Chainer Linear (out, in), C,H,W columns
    chainer_out = feature_map.reshape(2, -1) @ w.T
    kernel = layouts.linear_kernel_from_chainer(w, (5, 3, 4))
    jaxdl_out = feature_map.transpose(0, 2, 3, 1).reshape(2, -1) @ kernel  # jaxdl flattens NHWC
    np.testing.assert_allclose(jaxdl_out, chainer_out, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layouts.linear_kernel_to_chainer(kernel, (5, 3, 4)), w)
    np.testing.assert_array_equal(layouts.linear_kernel_from_chainer(w), w.T)


def test_save_npz_writes_chainer_keys_shapes_and_dtypes(state, tmp_path):
    out = tmp_path / "model_iter_1"  # no extension, like Chainer's snapshot_object
    jaxdl.chainer.save_npz(out, state)
    assert out.exists() and not list(tmp_path.glob(".*"))  # no temporary file left behind
    with np.load(out) as saved:
        assert {k: saved[k].shape for k in saved.files} == fixture_layout()
        assert all(saved[k].dtype == np.float32 for k in saved.files)


def test_round_trips_are_exact(state, alex_chainer_weights, tmp_path):
    jaxdl.chainer.save_npz(tmp_path / "again.npz", state)
    with np.load(tmp_path / "again.npz") as saved:  # Chainer -> jaxdl -> Chainer
        for key, value in alex_chainer_weights.items():
            np.testing.assert_array_equal(saved[key], value, err_msg=key)
    reloaded = jaxdl.chainer.load_npz(tmp_path / "again.npz")  # jaxdl -> Chainer -> jaxdl
    jax.tree.map(np.testing.assert_array_equal, reloaded.params, state.params)


def test_trainer_snapshot_prefix(alex_chainer_weights, tmp_path):
    snapshot = {SNAPSHOT_PREFIX + k: v for k, v in alex_chainer_weights.items()}
    others = [str(n) for n in REF["snapshot_names"] if not str(n).startswith(SNAPSHOT_PREFIX)]
    snapshot.update({name: np.zeros(()) for name in others})  # iterator, optimizer, extension entries
    path = tmp_path / "snapshot_iter_1"
    with open(path, "wb") as f:
        np.savez(f, **snapshot)
    state = jaxdl.chainer.load_npz(path, prefix=SNAPSHOT_PREFIX)
    np.testing.assert_array_equal(state.params["conv1"]["bias"], alex_chainer_weights["conv1/b"])
    with pytest.raises(ChainerFileError, match="prefix='updater/model:main/'"):
        jaxdl.chainer.load_npz(path)


def small_file(tmp_path, arrays: dict) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def test_missing_key_is_named(tmp_path):
    path = small_file(tmp_path, {"conv1/b": np.zeros(96, np.float32)})
    with pytest.raises(ChainerFileError, match="missing key 'conv1/W'.*\\(96, 3, 11, 11\\)"):
        jaxdl.chainer.load_npz(path)


def test_wrong_shape_is_named(tmp_path):
    path = small_file(tmp_path, {"conv1/W": np.zeros((96, 3, 5, 5), np.float32)})
    with pytest.raises(ChainerFileError, match="'conv1/W' has shape \\(96, 3, 5, 5\\), expected \\(96, 3, 11, 11\\)"):
        jaxdl.chainer.load_npz(path)


def test_extra_key_is_named(tmp_path):
    path = small_file(tmp_path, {"conv6/W": np.zeros(3, np.float32)})
    with pytest.raises(ChainerFileError, match="unexpected key.*conv6/W"):
        jaxdl.chainer.load_npz(path)


def test_unknown_arch_lists_the_known_ones(tmp_path):
    path = small_file(tmp_path, {"x": np.zeros(1)})
    with pytest.raises(ValueError, match="unknown arch 'vgg16'.*alex.*nin.*resnext50"):
        jaxdl.chainer.load_npz(path, arch="vgg16")


def test_non_float_parameter_is_rejected(tmp_path):
    arrays = {k: np.zeros(s, np.float32) for k, s in ALEX_SHAPES.items() if not k.startswith(("fc6", "fc7"))}
    arrays["conv1/W"] = np.zeros(ALEX_SHAPES["conv1/W"], np.int32)
    with pytest.raises(ChainerFileError, match="'conv1/W' has dtype int32"):
        jaxdl.chainer.load_npz(small_file(tmp_path, arrays))


def test_bad_batches_are_rejected(state):
    with pytest.raises(ValueError, match=r"NCHW input of shape \(N, 3, 227, 227\)"):
        jaxdl.chainer.predict(state, np.zeros((1, 227, 227, 3), np.float32))
    with pytest.raises(ValueError, match="labels must be an integer array of shape"):
        jaxdl.chainer.loss_and_grads(state, np.zeros((2, 3, 227, 227), np.float32), np.zeros(3, np.int32))


def test_failed_save_leaves_the_old_file(state, tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old contents")

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        jaxdl.chainer.save_npz(target, state)
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_save_checks_the_arch(state, tmp_path):
    with pytest.raises(ValueError, match="state holds arch 'alex' but save_npz was asked for arch 'googlenet'"):
        jaxdl.chainer.save_npz(tmp_path / "x.npz", state, arch="googlenet")
