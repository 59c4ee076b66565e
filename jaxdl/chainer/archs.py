"""The architectures jaxdl can exchange with Chainer, and the state that carries one."""

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct

from jaxdl.chainer.layouts import FlattenCHW
from jaxdl.models.alexnet import ALEX_CONVS, AlexNet


class Link(NamedTuple):
    """One Chainer link; its name is also the Flax submodule name."""

    name: str
    kind: str  # "conv" (L.Convolution2D <-> jaxdl.nn.Convolution2D) or "linear" (L.Linear <-> nn.Dense)
    flatten_chw: FlattenCHW = None


class Arch(NamedTuple):
    name: str
    build: Callable[[], nn.Module]
    links: tuple[Link, ...]
    input_chw: tuple[int, int, int]  # one NCHW example, as Chainer takes it


ARCHS = {
    "alex": Arch(
        "alex", AlexNet,
        tuple(Link(spec.name, "conv") for spec in ALEX_CONVS)
        + (Link("fc6", "linear", (256, 6, 6)),  # fc6 reads pool5, 256 x 6 x 6
           Link("fc7", "linear"), Link("fc8", "linear")),
        (3, AlexNet.insize, AlexNet.insize)),
}


def get_arch(name: str) -> Arch:
    """The registered architecture `name`, or a ValueError listing the known ones."""
    if name not in ARCHS:
        raise ValueError(f"unknown arch {name!r}; jaxdl.chainer knows {sorted(ARCHS)}")
    return ARCHS[name]


@flax.struct.dataclass
class ModelState:
    """A model exchanged with Chainer: its Flax params pytree and the arch name (static)."""

    params: Any
    arch: str = flax.struct.field(pytree_node=False, default="alex")
