"""Flax params <-> Chainer parameter dicts ({"conv1/W": ..., "fc8/b": ...}) for a registered arch."""

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.chainer import layouts
from jaxdl.chainer.archs import Arch, Link

_TO_CHAINER = {"conv": layouts.conv_kernel_to_chainer, "linear": layouts.linear_kernel_to_chainer}
_FROM_CHAINER = {"conv": layouts.conv_kernel_from_chainer, "linear": layouts.linear_kernel_from_chainer}


def _kernel_args(link: Link) -> tuple:
    return (link.flatten_chw,) if link.kind == "linear" else ()


def to_chainer(params: Mapping[str, Any], arch: Arch) -> dict[str, Any]:
    """Flax params -> {"<link>/W": Chainer-layout weight, "<link>/b": bias}; array types kept."""
    out = {}
    for link in arch.links:
        out[f"{link.name}/W"] = _TO_CHAINER[link.kind](params[link.name]["kernel"], *_kernel_args(link))
        out[f"{link.name}/b"] = params[link.name]["bias"]
    return out


def from_chainer(arrays: Mapping[str, Any], arch: Arch) -> dict[str, dict[str, Any]]:
    """{"<link>/W", "<link>/b"} in Chainer layouts -> Flax params; inverse of to_chainer."""
    return {link.name: {"kernel": _FROM_CHAINER[link.kind](arrays[f"{link.name}/W"], *_kernel_args(link)),
                        "bias": arrays[f"{link.name}/b"]}
            for link in arch.links}


def flax_param_shapes(arch: Arch) -> Any:
    """The arch's params pytree as jax.ShapeDtypeStructs (no memory allocated)."""
    sample = jnp.zeros((1, arch.input_chw[1], arch.input_chw[2], arch.input_chw[0]), jnp.float32)
    return jax.eval_shape(lambda: arch.build().init(jax.random.key(0), sample))["params"]


@functools.cache
def chainer_param_shapes(arch: Arch) -> dict[str, tuple[int, ...]]:
    """{"conv1/W": (96, 3, 11, 11), ...}: what Chainer's save_npz of the arch holds."""
    structs = jax.eval_shape(lambda p: to_chainer(p, arch), flax_param_shapes(arch))
    return {key: tuple(s.shape) for key, s in structs.items()}


def to_numpy_chainer(params: Mapping[str, Any], arch: Arch) -> dict[str, np.ndarray]:
    """to_chainer on host: contiguous float32 NumPy arrays, ready for np.savez."""
    host = jax.tree.map(lambda leaf: np.asarray(leaf, dtype=np.float32), params)
    return {key: np.ascontiguousarray(value) for key, value in to_chainer(host, arch).items()}
