"""Chainer serializers.save_npz files in and out.

A Chainer model file maps "<link>/<param>" (e.g. "conv1/W", "res2/0/bn1/avg_mean") to float32
arrays in Chainer layouts, and each BatchNormalization's "<link>/N" to a 0-d integer; a trainer
snapshot holds the same keys under "updater/model:main/".
"""

import os
import zipfile
import zlib

import jax
import numpy as np

from jaxdl._validate import npz_problem
from jaxdl.atomic import atomic_write
from jaxdl.chainer.archs import ModelState, get_arch
from jaxdl.chainer.convert import BN_COUNT, chainer_param_shapes, from_chainer, to_numpy_chainer

TRAINER_SNAPSHOT_PREFIX = "updater/model:main/"  # where extensions.snapshot() keeps the model


class ChainerFileError(ValueError):
    """A file that is not a Chainer npz, or one that does not hold the expected parameters."""


WHAT = "a Chainer model npz (what chainer.serializers.save_npz writes, e.g. train_imagenet's model_iter_N)"
JAXDL_SNAPSHOT_KEY = "__meta__"  # jaxdl.train.checkpoint's metadata entry, in every jaxdl trainer snapshot


def _read(archive, key: str, path) -> np.ndarray:
    """archive[key], a damaged or pickled member raised as ChainerFileError naming the file and key."""
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ChainerFileError(f"{path}: key {key!r} cannot be read ({error}); the file should be {WHAT}") from error


def read_chainer_arrays(path: str | os.PathLike, arch: str = "alex", prefix: str = "") -> dict[str, np.ndarray]:
    """The arch's parameters from a Chainer npz, keyed without the prefix, in Chainer layouts.

    Raises ChainerFileError naming the file for a file that is not an npz archive (a .npy,
    a truncated zip, a jaxdl trainer snapshot), and the key for a missing parameter, a wrong
    shape, a non-float or unreadable array (a non-integer N), or a key under `prefix` that the arch
    does not have.
    """
    expected = chainer_param_shapes(get_arch(arch))
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str such as {TRAINER_SNAPSHOT_PREFIX!r}, got {prefix!r}")
    problem = npz_problem(path)
    if problem is not None:
        raise ChainerFileError(f"{path} is not {WHAT}: {problem}")
    with np.load(path, allow_pickle=False) as archive:
        if JAXDL_SNAPSHOT_KEY in archive.files:
            raise ChainerFileError(f"{path} is a jaxdl trainer snapshot (snapshot_iter_N), not {WHAT}; continue a run "
                                   "from it with train_imagenet --resume (jaxdl.train.checkpoint.restore_checkpoint)")
        if not prefix and any(key.startswith(TRAINER_SNAPSHOT_PREFIX) for key in archive.files):
            raise ChainerFileError(f"{path} is a Chainer trainer snapshot; load its model with "
                                   f"prefix={TRAINER_SNAPSHOT_PREFIX!r}")
        under_prefix = {key[len(prefix):] for key in archive.files if key.startswith(prefix)}
        extra = sorted(under_prefix - expected.keys())
        if extra:
            shown = ", ".join(repr(prefix + key) for key in extra[:5])
            shown += f" and {len(extra) - 5} more" if len(extra) > 5 else ""
            raise ChainerFileError(f"{path}: unexpected key(s) {shown} for arch {arch!r}; "
                                   f"is this a file of another architecture, or is prefix={prefix!r} wrong?")
        arrays = {}
        for name, shape in expected.items():
            key = prefix + name
            if key not in archive.files:
                raise ChainerFileError(f"{path}: missing key {key!r} (Chainer {arch} parameter of shape {shape})")
            value = _read(archive, key, path)
            if value.shape != shape:
                raise ChainerFileError(
                    f"{path}: key {key!r} has shape {value.shape}, expected {shape} for arch {arch!r}")
            if name.rpartition("/")[2] == BN_COUNT:
                if value.dtype.kind not in "iu":
                    raise ChainerFileError(f"{path}: key {key!r} has dtype {value.dtype}, expected an integer")
                continue  # the fine-tuning count: jaxdl does not keep it (see jaxdl.chainer.convert)
            if value.dtype.kind != "f":
                raise ChainerFileError(f"{path}: key {key!r} has dtype {value.dtype}, expected a float array")
            arrays[name] = value.astype(np.float32)
    return arrays


def load_npz(path: str | os.PathLike, arch: str = "alex", prefix: str = "") -> ModelState:
    """Read a Chainer save_npz file of `arch` (a name of jaxdl.chainer.ARCHS; or, with
    prefix="updater/model:main/", a trainer snapshot).

    Converts Convolution2D weights OIHW -> HWIO, Linear (out, in) -> (in, out) (and the rows
    of a Linear that reads a feature map from Chainer's C,H,W flatten to jaxdl's H,W,C), and
    BatchNormalization's avg_mean / avg_var to the batch_stats collection. Returns a
    ModelState on the default device.
    """
    spec = get_arch(arch)
    params, batch_stats = from_chainer(read_chainer_arrays(path, arch, prefix), spec)
    model_state = {"batch_stats": batch_stats} if batch_stats else {}
    return ModelState(params=jax.device_put(params), arch=spec.name, model_state=jax.device_put(model_state))


def save_npz(path: str | os.PathLike, state: ModelState, arch: str | None = None) -> None:
    """Write `state` as chainer.serializers.save_npz would: every parameter ("conv1/W" ... "fc8/b"),
    and for BatchNormalization also avg_mean, avg_var (the state's batch_stats) and N (0), Chainer
    layouts, float32, uncompressed. `arch` defaults to the state's (given, it must equal it). The
    file appears atomically (temp file + os.replace), at exactly `path` (no ".npz" is appended,
    as with Chainer).
    """
    spec = get_arch(state.arch if arch is None else arch)
    if state.arch != spec.name:
        raise ValueError(f"state holds arch {state.arch!r} but save_npz was asked for arch {arch!r}")
    batch_stats = state.model_state.get("batch_stats")
    if batch_stats is None and any(link.kind == "bn" for link in spec.links):
        raise ValueError(f"arch {spec.name!r} has BatchNormalization: the state needs its running statistics, "
                         "model_state={'batch_stats': ...}")
    arrays = to_numpy_chainer(state.params, spec, batch_stats if batch_stats is not None else {})
    with atomic_write(path) as f:
        np.savez(f, **arrays)
