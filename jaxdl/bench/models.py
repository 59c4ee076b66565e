"""The models the benchmark trains, by name: the course's nets and every jaxdl.chainer architecture.

    get("alexnet").task("bfloat16") -> Task (model computing in bfloat16, its optimizer and loss)

Names: "mlp" (the vanishing-gradient grid's MultiLayerNet 784-40-20-10, ReLU, He, SGD 0.1),
"simpleconvnet" and "deepconvnet" (course 2_6 / 2_8 on 28x28x1, Adam 0.001), all with the course's
loss; and each jaxdl.chainer.ARCHS entry ("alex" listed as "alexnet"), on its Chainer input size
with Chainer's MomentumSGD 0.01/0.9 and F.softmax_cross_entropy, as train_imagenet trains it. An
architecture added to ARCHS appears here without a change.

Mixed precision: parameters and optimizer state stay float32; a model with a `dtype` field (the
Chainer architectures) computes in it and keeps its float32 islands (LRN, logits, loss); a course
net, which has none, is wrapped in `CastCompute`: its float parameters and input cast to the
compute dtype at use, its logits cast back to float32 before the loss.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import jaxdl.optim
from jaxdl.chainer.archs import ARCHS
from jaxdl.models.convnets import DeepConvNet, SimpleConvNet
from jaxdl.models.mlp import MultiLayerNet
from jaxdl.train.state import Task

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
ALIASES = {"alexnet": "alex"}  # benchmark name -> ARCHS name


def _cast_floats(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


@dataclasses.dataclass(frozen=True)
class CastCompute:
    """`module` computing in `dtype` with float32 parameters: apply casts the float parameters and
    the input to `dtype` and the logits back to float32 (gradients flow to the float32 parameters
    through the casts). init is the module's. Quacks like the nn.Module a Task holds."""

    module: nn.Module
    dtype: Any

    def init(self, rngs: Any, x: jax.Array, **kwargs: Any) -> Any:
        return self.module.init(rngs, x, **kwargs)

    def apply(self, variables: dict, x: jax.Array, **kwargs: Any) -> Any:
        variables = {**variables, "params": _cast_floats(variables["params"], self.dtype)}
        out = self.module.apply(variables, x.astype(self.dtype), **kwargs)
        if kwargs.get("mutable"):
            logits, updates = out
            return logits.astype(jnp.float32), updates
        return out.astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class BenchModel:
    """A benchmarkable model: how to build it, its input (H, W, C) and classes, and how it trains."""

    name: str
    build: Callable[[], nn.Module]
    input_hwc: tuple[int, int, int]
    num_classes: int
    optimizer: Callable[[], optax.GradientTransformation]
    loss: str
    source: str  # where the model comes from, for the report

    def model(self, dtype: str) -> Any:
        """The model computing in `dtype` ("float32" | "bfloat16"), parameters float32."""
        module = self.build()
        if dtype == "float32":
            return module
        if "dtype" in {field.name for field in dataclasses.fields(module)}:
            return module.clone(dtype=DTYPES[dtype])
        return CastCompute(module, DTYPES[dtype])

    def task(self, dtype: str) -> Task:
        return Task(self.model(dtype), self.optimizer(), loss=self.loss)


def _chainer_momentum() -> optax.GradientTransformation:
    return jaxdl.optim.create("chainer:momentum", learning_rate=0.01, momentum=0.9)


def course_models() -> dict[str, BenchModel]:
    mnist = (28, 28, 1)
    return {
        "mlp": BenchModel("mlp", lambda: MultiLayerNet(784, (40, 20), 10, activation="relu", weight_init="He"),
                          mnist, 10, lambda: optax.sgd(0.1), "course", "course MultiLayerNet 784-40-20-10"),
        "simpleconvnet": BenchModel("simpleconvnet", SimpleConvNet, mnist, 10, lambda: optax.adam(0.001), "course",
                                    "course 2_6 SimpleConvNet"),
        "deepconvnet": BenchModel("deepconvnet", DeepConvNet, mnist, 10, lambda: optax.adam(0.001), "course",
                                  "course 2_8 DeepConvNet"),
    }


def chainer_models() -> dict[str, BenchModel]:
    aliases = {arch: alias for alias, arch in ALIASES.items()}
    models = {}
    for arch_name, arch in ARCHS.items():
        name = aliases.get(arch_name, arch_name)
        channels, height, width = arch.input_chw
        models[name] = BenchModel(name, arch.build, (height, width, channels), arch.build().num_classes,
                                  _chainer_momentum, "chainer", f"jaxdl.chainer.ARCHS[{arch_name!r}]")
    return models


def registry() -> dict[str, BenchModel]:
    """Every benchmarkable model by name (read now, so architectures registered later appear)."""
    return {**course_models(), **chainer_models()}


def get(name: str) -> BenchModel:
    """The model `name` (an ARCHS name such as "alex" works too), or ValueError listing the names."""
    models = registry()
    name = {arch: alias for alias, arch in ALIASES.items()}.get(name, name)
    if name not in models:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(models)}")
    return models[name]
