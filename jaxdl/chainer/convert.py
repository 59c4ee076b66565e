"""Flax variables <-> Chainer parameter dicts ({"conv1/W": ..., "bn1/avg_mean": ...}) for a registered arch.

Per link (jaxdl.chainer.archs.Link): a convolution's or Linear's "kernel" is Chainer's W (in
Chainer's layout) and "bias" its b; a BatchNormalization's "gamma" and "beta" are Chainer's,
and its running statistics, batch_stats "mean" and "var", Chainer's persistent avg_mean and
avg_var. Chainer also saves each BatchNormalization's N, the count of fine-tuning batches
(only forward(finetune=True) moves it; train_imagenet never does): written as 0, read and
checked for its shape only.
"""

import functools
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.chainer import layouts
from jaxdl.chainer.archs import Arch, Link, arch_links, variable_shapes

_TO_CHAINER = {"conv": layouts.conv_kernel_to_chainer, "linear": layouts.linear_kernel_to_chainer}
_FROM_CHAINER = {"conv": layouts.conv_kernel_from_chainer, "linear": layouts.linear_kernel_from_chainer}
BN_PARAMS = (("gamma", "gamma"), ("beta", "beta"))  # (Chainer name, Flax name)
BN_STATS = (("avg_mean", "mean"), ("avg_var", "var"))
BN_COUNT = "N"  # chainer.links.BatchNormalization's persistent int, saved as a 0-d int64 array


def _kernel_args(link: Link) -> tuple:
    return (link.flatten_chw,) if link.kind == "linear" else ()


def _node(tree: Mapping[str, Any], name: str) -> Any:
    for part in name.split("/"):
        tree = tree[part]
    return tree


def _set(tree: dict, name: str, value: Any) -> None:
    *parents, last = name.split("/")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def to_chainer(params: Mapping[str, Any], arch: Arch, batch_stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flax params (and batch_stats, if given) -> {"<link>/W": Chainer-layout weight, "<link>/b", "<bn>/gamma",
    "<bn>/beta" (, "<bn>/avg_mean", "<bn>/avg_var")}; array types kept. Gradients go through it too."""
    out = {}
    for link in arch_links(arch):
        p = _node(params, link.name)
        if link.kind == "bn":
            for chainer_name, flax_name in BN_PARAMS:
                out[f"{link.name}/{chainer_name}"] = p[flax_name]
            if batch_stats is not None:
                stats = _node(batch_stats, link.name)
                for chainer_name, flax_name in BN_STATS:
                    out[f"{link.name}/{chainer_name}"] = stats[flax_name]
            continue
        out[f"{link.name}/W"] = _TO_CHAINER[link.kind](p["kernel"], *_kernel_args(link))
        if link.bias:
            out[f"{link.name}/b"] = p["bias"]
    return out


def from_chainer(arrays: Mapping[str, Any], arch: Arch) -> tuple[dict, dict]:
    """Chainer-layout arrays (the keys of to_chainer with batch statistics) -> (params, batch_stats)."""
    params, batch_stats = {}, {}
    for link in arch_links(arch):
        if link.kind == "bn":
            for chainer_name, flax_name in BN_PARAMS:
                _set(params, f"{link.name}/{flax_name}", arrays[f"{link.name}/{chainer_name}"])
            for chainer_name, flax_name in BN_STATS:
                _set(batch_stats, f"{link.name}/{flax_name}", arrays[f"{link.name}/{chainer_name}"])
            continue
        _set(params, f"{link.name}/kernel", _FROM_CHAINER[link.kind](arrays[f"{link.name}/W"], *_kernel_args(link)))
        if link.bias:
            _set(params, f"{link.name}/bias", arrays[f"{link.name}/b"])
    return params, batch_stats


def count_keys(arch: Arch) -> tuple[str, ...]:
    """The "<bn>/N" keys of the arch's BatchNormalizations."""
    return tuple(f"{link.name}/{BN_COUNT}" for link in arch_links(arch) if link.kind == "bn")


@functools.cache
def chainer_param_shapes(arch: Arch) -> dict[str, tuple[int, ...]]:
    """{"conv1/W": (96, 3, 11, 11), ..., "bn1/N": ()}: every key chainer.serializers.save_npz of the arch writes."""
    variables = variable_shapes(arch)
    structs = jax.eval_shape(lambda v: to_chainer(v["params"], arch, v.get("batch_stats", {})), variables)
    shapes = {key: tuple(s.shape) for key, s in structs.items()}
    return {**shapes, **{key: () for key in count_keys(arch)}}


def to_numpy_chainer(params: Mapping[str, Any], arch: Arch,
                     batch_stats: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """to_chainer on host: contiguous float32 NumPy arrays, ready for np.savez; with batch_stats also
    each BatchNormalization's N (0, int64), so the dict holds every key of Chainer's save_npz."""
    host_params, host_stats = jax.tree.map(lambda leaf: np.asarray(leaf, dtype=np.float32), (params, batch_stats))
    out = {key: np.ascontiguousarray(value) for key, value in to_chainer(host_params, arch, host_stats).items()}
    if batch_stats is not None:
        out.update({key: np.zeros((), np.int64) for key in count_keys(arch)})
    return out
