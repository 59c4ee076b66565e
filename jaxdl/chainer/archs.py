"""The architectures jaxdl can exchange with Chainer, and the state that carries one.

An Arch names a Flax module whose submodules carry Chainer's link names (nested modules for
Chainer's child links: ResNet50's res2/0/conv1 is params["res2"]["0"]["conv1"]), so the
Chainer keys of every parameter follow from the module's own parameter tree (`links`): a
"kernel" of rank 4 is an L.Convolution2D (W, and b if it has a "bias"), of rank 2 an
L.Linear, a "gamma"/"beta" pair an L.BatchNormalization (gamma, beta, and the persistent
avg_mean, avg_var and N). What the tree cannot say is data of the arch: the Linears that
read a feature map larger than 1x1 (flatten_chw), the main classifier, whether it drops out.
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from jaxdl.chainer.layouts import FlattenCHW
from jaxdl.models.alexnet import AlexNet
from jaxdl.models.googlenet import GoogLeNet, GoogLeNetBN
from jaxdl.models.nin import NIN
from jaxdl.models.resnet import ResNet50, ResNeXt50


class Link(NamedTuple):
    """One Chainer link holding parameters; its name ("res2/0/conv1") is its Flax module path joined by "/"."""

    name: str
    kind: str  # "conv" (L.Convolution2D), "linear" (L.Linear <-> nn.Dense) or "bn" (L.BatchNormalization)
    flatten_chw: FlattenCHW = None
    bias: bool = True  # False: Chainer's nobias=True (no "b")


class Arch(NamedTuple):
    name: str
    build: Callable[[], nn.Module]
    input_chw: tuple[int, int, int]  # one NCHW example, as Chainer takes it
    classifier: str  # the link whose outputs are the (main) logits
    flatten_chw: tuple[tuple[str, tuple[int, int, int]], ...] = ()  # Linears reading a C x H x W map, H*W > 1
    dropout: bool = False  # whether train mode draws from the 'dropout' rng

    @property
    def links(self) -> tuple[Link, ...]:
        """Every link with parameters, in Chainer's (sorted) key order."""
        return arch_links(self)


def _arch(name: str, build, classifier: str, flatten_chw=(), dropout: bool = False) -> Arch:
    return Arch(name, build, (3, build.insize, build.insize), classifier, tuple(flatten_chw), dropout)


ARCHS = {arch.name: arch for arch in (
    _arch("alex", AlexNet, "fc8", [("fc6", (256, 6, 6))], dropout=True),  # fc6 reads pool5, 256 x 6 x 6
    _arch("googlenet", GoogLeNet, "loss3_fc", [("loss1_fc1", (128, 4, 4)), ("loss2_fc1", (128, 4, 4))],
          dropout=True),
    _arch("googlenetbn", GoogLeNetBN, "out", [("lina", (128, 4, 4)), ("linb", (128, 4, 4))]),
    _arch("nin", NIN, "mlpconv4/2", dropout=True),
    _arch("resnet50", ResNet50, "fc"),
    _arch("resnext50", ResNeXt50, "fc"),
    _arch("resnet50_nhwc", ResNet50, "fc"),  # ResNet50_Nhwc: the same network (jaxdl computes NHWC anyway)
)}


def get_arch(name: str) -> Arch:
    """The registered architecture `name`, or a ValueError listing the known ones."""
    if name not in ARCHS:
        raise ValueError(f"unknown arch {name!r}; jaxdl.chainer knows {sorted(ARCHS)}")
    return ARCHS[name]


def variable_shapes(arch: Arch) -> dict[str, Any]:
    """The arch's variables ({"params": ..., "batch_stats": ...}) as jax.ShapeDtypeStructs (nothing allocated)."""
    sample = jnp.zeros((1, arch.input_chw[1], arch.input_chw[2], arch.input_chw[0]), jnp.float32)
    return jax.eval_shape(lambda: arch.build().init(jax.random.key(0), sample))


@functools.cache
def arch_links(arch: Arch) -> tuple[Link, ...]:
    """The links of `arch`, read off its Flax parameter tree (see the module docstring)."""
    flatten = dict(arch.flatten_chw)
    links = []

    def walk(tree: dict, path: tuple[str, ...]) -> None:
        name = "/".join(path)
        if "kernel" in tree:
            kind = {4: "conv", 2: "linear"}[tree["kernel"].ndim]
            links.append(Link(name, kind, flatten.get(name), "bias" in tree))
        elif "gamma" in tree:
            links.append(Link(name, "bn"))
        else:
            for key, sub in tree.items():
                walk(sub, (*path, key))

    walk(variable_shapes(arch)["params"], ())
    unknown = set(flatten) - {link.name for link in links if link.kind == "linear"}
    if unknown:
        raise ValueError(f"arch {arch.name!r}: flatten_chw names {sorted(unknown)}, which are not Linears")
    return tuple(sorted(links))


@flax.struct.dataclass
class ModelState:
    """A model exchanged with Chainer: its Flax params pytree, the arch name (static), and its other
    variable collections ({"batch_stats": running means and variances} for the archs with
    BatchNormalization; empty otherwise), as TrainState.model_state holds them."""

    params: Any
    arch: str = flax.struct.field(pytree_node=False, default="alex")
    model_state: Any = flax.struct.field(default_factory=dict)
