"""Atomic single-file checkpoints of a pytree of arrays plus JSON metadata (an npz file).

Each leaf is stored under its key path (jax.tree_util.keystr), typed PRNG keys as their
raw key data; "__meta__" holds the JSON. Restoring needs a target pytree of the same
structure (its leaves are arrays) and gives back bit-identical leaves.
"""

import json
import os
import zipfile
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._validate import npz_problem
from jaxdl.atomic import atomic_write

META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A file that is not a checkpoint, or one that does not match the structure it is restored into."""


WHAT = "a checkpoint written by jaxdl.train.checkpoint.save_checkpoint (e.g. train_imagenet's snapshot_iter_N)"


def _read(archive, key: str, path) -> np.ndarray:
    """archive[key], a damaged or pickled member raised as CheckpointError naming the file and key."""
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: entry {key} cannot be read ({error}); the file should be {WHAT}") from error


def _is_prng_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> None:
    """Write every leaf of `tree` and `meta` (JSON-serialisable) to `path`, atomically."""
    arrays = {}
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        value = jax.random.key_data(leaf) if _is_prng_key(leaf) else leaf
        arrays[jax.tree_util.keystr(key_path)] = np.asarray(value)
    arrays[META_KEY] = np.array(json.dumps(meta or {}))
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def restore_checkpoint(path: str | os.PathLike, target: Any) -> tuple[Any, dict]:
    """(tree shaped like `target` with the saved leaves, meta). Raises CheckpointError naming
    the file when it is not a save_checkpoint npz (a .npy, a truncated zip, a Chainer model
    npz), else the first missing key or the first leaf whose shape or dtype differs from the target's."""
    key_paths, treedef = jax.tree_util.tree_flatten_with_path(target)
    leaves = []
    problem = npz_problem(path)
    if problem is not None:
        raise CheckpointError(f"{path} is not {WHAT}: {problem}")
    with np.load(path, allow_pickle=False) as archive:
        if META_KEY not in archive.files:
            shown = ", ".join(archive.files[:3]) + (", ..." if len(archive.files) > 3 else "")
            raise CheckpointError(f"{path} is not {WHAT}: it has no {META_KEY} entry (it holds {shown or 'nothing'}); "
                                  "a Chainer model npz (model_iter_N) initialises a model with --initmodel instead")
        for key_path, target_leaf in key_paths:
            key = jax.tree_util.keystr(key_path)
            if key not in archive.files:
                raise CheckpointError(f"{path}: missing leaf {key}; was it written for another model or optimizer?")
            value = _read(archive, key, path)
            is_key = _is_prng_key(target_leaf)
            like = jax.random.key_data(target_leaf) if is_key else target_leaf
            if value.shape != tuple(like.shape) or value.dtype != like.dtype:
                raise CheckpointError(f"{path}: leaf {key} is {value.dtype}{list(value.shape)}, "
                                      f"expected {like.dtype}{list(like.shape)}")
            leaves.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(target_leaf))
                          if is_key else jnp.asarray(value))
        meta = json.loads(str(_read(archive, META_KEY, path)))
    return jax.tree_util.tree_unflatten(treedef, leaves), meta
