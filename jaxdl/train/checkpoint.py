"""Checkpoints of a pytree of arrays plus JSON metadata: orbax checkpoint folders.

A checkpoint is a folder that orbax writes from the arrays where they live (sharded or
replicated over the devices of one or many processes; every process calls `save_checkpoint`
and writes its own shards): "state" holds the leaves (typed PRNG keys as their raw key data),
"meta" the JSON. orbax writes into a temporary folder and renames it when complete, so a
checkpoint on disk is whole; one written over an existing checkpoint replaces it in one step.
`restore_checkpoint` places the leaves as the target's leaves are placed (their shardings), so
a checkpoint written on 4 devices restores on 1, or on 2 processes, unchanged.
"""

import os
import pathlib
import shutil
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdl import parallel
from jaxdl._validate import npz_problem
from jaxdl.atomic import exchange_paths


class CheckpointError(ValueError):
    """A path that is not a checkpoint, or one that does not match the structure it is restored into."""


WHAT = "a checkpoint folder written by jaxdl.train.checkpoint.save_checkpoint (e.g. train_imagenet's snapshot_iter_N)"
STAGING_SUFFIX = ".staging-checkpoint"  # a replacement being written beside an existing checkpoint
ORBAX_TMP_MARK = ".orbax-checkpoint-tmp"  # orbax's own temporary folders


def _is_prng_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _storable(tree: Any) -> Any:
    """`tree` with typed PRNG keys replaced by their raw key data (what orbax stores)."""
    return jax.tree.map(lambda leaf: jax.random.key_data(leaf) if _is_prng_key(leaf) else leaf, tree)


def _checkpointer() -> ocp.Checkpointer:
    return ocp.Checkpointer(ocp.CompositeCheckpointHandler())


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> None:
    """Write every leaf of `tree` (jax or NumPy arrays) and `meta` (JSON-serialisable) as the checkpoint
    folder `path`, replacing one that is there. Every process of a multi-process run calls it."""
    path = pathlib.Path(path).absolute()
    args = ocp.args.Composite(state=ocp.args.StandardSave(_storable(tree)), meta=ocp.args.JsonSave(meta or {}))
    if not path.exists():
        _checkpointer().save(path, args)
        return
    staging = path.parent / (path.name + STAGING_SUFFIX)
    _checkpointer().save(staging, args, force=True)
    if parallel.is_writer():
        if path.is_dir() and exchange_paths(str(staging), str(path)):
            shutil.rmtree(staging)
        else:  # a file in the way, or no atomic exchange here
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            os.rename(staging, path)
    parallel.sync(f"replace {path}")


def remove_checkpoint_leftovers(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary folders that killed saves left in `folder`; returns their paths."""
    removed = []
    for path in pathlib.Path(folder).glob("*"):
        if path.is_dir() and (path.name.endswith(STAGING_SUFFIX) or ORBAX_TMP_MARK in path.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def _not_a_checkpoint(path: pathlib.Path) -> CheckpointError:
    """The error for a path that is not a checkpoint folder, saying what it is instead."""
    if path.is_file():
        problem = npz_problem(path)
        if problem is None:
            return CheckpointError(f"{path} is not {WHAT}: it is an npz file; a Chainer model npz (model_iter_N) "
                                   "initialises a model with --initmodel instead")
        return CheckpointError(f"{path} is not {WHAT}: {problem}")
    return CheckpointError(f"{path} is not {WHAT}: it has no state/ and meta/ entries written by orbax")


def restore_checkpoint(path: str | os.PathLike, target: Any) -> tuple[Any, dict]:
    """(tree shaped like `target` with the saved leaves, placed with the target leaves' shardings, meta).

    Raises FileNotFoundError for a missing path, and CheckpointError naming the path when it is not a
    `save_checkpoint` folder (a file, a Chainer model npz, another folder), else naming the first
    missing leaf or the first leaf whose shape or dtype differs from the target's.
    """
    path = pathlib.Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not path.is_dir() or not (path / "state").is_dir() or not (path / "meta").exists():
        raise _not_a_checkpoint(path)
    stored_target = _storable(target)
    _check_structure(path, stored_target)
    abstract = jax.tree.map(_abstract, stored_target)
    try:
        restored = _checkpointer().restore(path, ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                    meta=ocp.args.JsonRestore()))
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise CheckpointError(f"{path} cannot be restored ({str(error).splitlines()[0]}); it should be {WHAT} "
                              "for this model and optimizer") from error
    leaves = [jax.random.wrap_key_data(value, impl=jax.random.key_impl(like)) if _is_prng_key(like) else value
              for value, like in zip(jax.tree.leaves(restored.state), jax.tree.leaves(target), strict=True)]
    return jax.tree.unflatten(jax.tree.structure(target), leaves), dict(restored.meta or {})


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    """What orbax restores a leaf as: its shape and dtype, placed like `leaf` (one device if a NumPy array)."""
    sharding = getattr(leaf, "sharding", None)
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=sharding)


def _dotted(key_path: tuple) -> str:
    """A leaf's key path as orbax names it: field names, dict keys and list indices joined by dots."""
    parts = []
    for entry in key_path:
        for attribute in ("name", "key", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
    return ".".join(parts)


def _check_structure(path: pathlib.Path, stored_target: Any) -> None:
    """CheckpointError naming the first leaf of `stored_target` that the checkpoint lacks or stores with
    another shape or dtype."""
    try:
        saved = ocp.StandardCheckpointHandler().metadata(path / "state").tree
        saved_leaves = {_dotted(key): leaf for key, leaf in jax.tree_util.tree_leaves_with_path(
            saved, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))}
    except (ValueError, KeyError, TypeError, OSError, AttributeError) as error:
        raise CheckpointError(f"{path} is not {WHAT}: its metadata cannot be read ({error})") from error
    for key, leaf in jax.tree_util.tree_leaves_with_path(stored_target):
        name = _dotted(key)
        if name not in saved_leaves:
            raise CheckpointError(f"{path}: missing leaf {name}; was it written for another model or optimizer?")
        stored = saved_leaves[name]
        if tuple(stored.shape) != tuple(np.shape(leaf)) or np.dtype(stored.dtype) != np.dtype(leaf.dtype):
            raise CheckpointError(f"{path}: leaf {name} is {np.dtype(stored.dtype)}{list(stored.shape)}, "
                                  f"expected {np.dtype(leaf.dtype)}{list(np.shape(leaf))}")
