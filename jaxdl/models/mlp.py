"""The course's MultiLayerNet as a Flax module.

Per hidden layer: Affine -> BatchNorm (optional) -> activation -> Dropout (optional);
then a final Affine. Weights W = std * randn(n_in, n_out), biases 0, with std from
`weight_init` (see `jaxdl.nn.course_std`). Parameters are named as the course names them:
affine{i}/kernel (W{i}), affine{i}/bias (b{i}), batchnorm{i}/gamma, batchnorm{i}/beta.
The Affine matmuls compute their weight gradients in the weights' layout
(`jaxdl.nn.dense_dot_general`); the network is differentiable in reverse mode.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import _validate
from jaxdl.nn import BatchNorm, Dropout, course_std, dense_dot_general, normal
from jaxdl.nn.batchnorm import CONVENTIONS
from jaxdl.nn.dropout import FORMS

ACTIVATIONS = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}


class MultiLayerNet(nn.Module):
    """MultiLayerNet(input_size, hidden_size_list, output_size, activation, weight_init_std,
    use_batchnorm, use_dropout/dropout_ratio) of the course; L2 decay lives in the loss.

    `input_size` is the flattened feature count the network expects; inputs of any trailing
    shape with that many features (e.g. (N, 28, 28, 1)) are flattened.
    """

    input_size: int
    hidden_sizes: Sequence[int]
    output_size: int = 10
    activation: str = "relu"
    weight_init: float | str = "relu"
    use_batchnorm: bool = False
    batchnorm: str = "course"
    dropout_ratio: float = 0.0
    dropout: str = "course"
    switchable: bool = False
    """Hold the activation and batch-norm choice as data (the 'switches' collection) rather than
    as structure: batch-norm layers always exist and jnp.where picks the path, so networks that
    differ only in activation, use_batchnorm or weight_init run in one compiled program."""

    def __post_init__(self) -> None:
        if isinstance(self.hidden_sizes, str | bytes) or not isinstance(self.hidden_sizes, Sequence):
            raise TypeError(f"MultiLayerNet: hidden_sizes must be a sequence of ints such as [100, 100], "
                            f"got {self.hidden_sizes!r}")
        sizes = [self.input_size, *self.hidden_sizes, self.output_size]
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of {sorted(ACTIVATIONS)}")
        course_std(self.weight_init, self.input_size)  # validates the name or number
        if not 0.0 <= self.dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {self.dropout_ratio}")
        if self.dropout not in FORMS:
            raise ValueError(f"unknown dropout form {self.dropout!r}; choose one of {FORMS}")
        if self.batchnorm not in CONVENTIONS:
            raise ValueError(f"unknown batch-norm convention {self.batchnorm!r}; choose one of {sorted(CONVENTIONS)}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _validate.array("MultiLayerNet", "x", x)
        if x.ndim < 2:
            raise ValueError(f"MultiLayerNet takes a batch (N, {self.input_size}) or (N, ...) with {self.input_size} "
                             f"features per example, got x of shape {tuple(x.shape)}; add the batch axis, e.g. x[None]")
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_size:
            raise ValueError(
                f"MultiLayerNet expects {self.input_size} input features per example, got "
                f"{x.shape[1]} (input shape {x.shape})"
            )
        sizes = [self.input_size, *self.hidden_sizes, self.output_size]
        normalize, activate = self._switched_layers() if self.switchable else self._static_layers()
        for i, width in enumerate(self.hidden_sizes, start=1):
            x = self._affine(i, width, sizes[i - 1])(x)
            x = activate(normalize(i, x, train))
            if self.dropout_ratio > 0:
                x = Dropout(self.dropout_ratio, self.dropout, name=f"dropout{i}")(x, train)
        last = len(self.hidden_sizes) + 1
        return self._affine(last, self.output_size, sizes[-2])(x)

    def kernel_stds(self) -> list[float]:
        """The course's per-layer weight std: course_std(weight_init, n_in) for each Affine."""
        sizes = [self.input_size, *self.hidden_sizes]
        return [course_std(self.weight_init, fan_in) for fan_in in sizes]

    def _static_layers(self):
        def normalize(i, x, train):
            return BatchNorm(self.batchnorm, name=f"batchnorm{i}")(x, train) if self.use_batchnorm else x

        return normalize, ACTIVATIONS[self.activation]

    def _switched_layers(self):
        use_sigmoid = self.variable("switches", "sigmoid", lambda: jnp.asarray(self.activation == "sigmoid")).value
        use_batchnorm = self.variable("switches", "batchnorm", lambda: jnp.asarray(self.use_batchnorm)).value

        def normalize(i, x, train):
            return jnp.where(use_batchnorm, BatchNorm(self.batchnorm, name=f"batchnorm{i}")(x, train), x)

        def activate(x):
            return jnp.where(use_sigmoid, jax.nn.sigmoid(x), jax.nn.relu(x))

        return normalize, activate

    def _affine(self, index: int, width: int, fan_in: int) -> nn.Dense:
        return nn.Dense(
            width,
            kernel_init=normal(course_std(self.weight_init, fan_in)),
            bias_init=nn.initializers.zeros,
            param_dtype=jnp.float32,
            dot_general=dense_dot_general,
            name=f"affine{index}",
        )


def course_init(model: MultiLayerNet, rng: np.random.RandomState) -> dict:
    """The variables of `model` as the course's __init_weight draws them from `rng`:
    W{i} = std_i * rng.randn(n_in, n_out) for i = 1, 2, ... in order, b = 0, gamma = 1, beta = 0,
    running statistics as the batch-norm convention starts them.

    With rng = np.random.RandomState(s) the weights equal the course's after np.random.seed(s).
    Runs on the host: nothing is compiled.
    """
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.key(0)}, jnp.zeros((1, model.input_size))))
    kernels = {f"affine{i}": (std * rng.randn(*shapes["params"][f"affine{i}"]["kernel"].shape)).astype(np.float32)
               for i, std in enumerate(model.kernel_stds(), start=1)}
    starts = {"bias": 0.0, "gamma": 1.0, "beta": 0.0, "mean": 0.0,
              "var": CONVENTIONS[model.batchnorm].initial_var,
              "sigmoid": model.activation == "sigmoid", "batchnorm": model.use_batchnorm}

    def fill(path, leaf):
        layer, name = path[-2].key if len(path) > 1 else None, path[-1].key
        if name == "kernel":
            return kernels[layer]
        return np.full(leaf.shape, starts[name], leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def init_variants(variants: Sequence[MultiLayerNet], rng: np.random.RandomState) -> dict:
    """`course_init(v, rng)` for each variant, each from rng's current state, stacked on a
    leading axis; rng ends past the draws, as after one course_init.

    Variants differing in activation, use_batchnorm or weight_init share the draws (scaled by
    their own std); all must have the same variables (use switchable=True).
    """
    start = rng.get_state()
    stacked = []
    for variant in variants:
        rng.set_state(start)
        stacked.append(course_init(variant, rng))
    if any(jax.tree.structure(s) != jax.tree.structure(stacked[0]) for s in stacked):
        raise ValueError("init_variants needs networks with the same variables; use switchable=True "
                         "for variants that differ in activation or use_batchnorm")
    return jax.tree.map(lambda *leaves: np.stack(leaves), *stacked)
