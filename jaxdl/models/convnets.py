"""The course's convolutional networks (2_6, 2_7, 2_8) as Flax modules on NHWC input.

Convolutions have the book's (and Chainer's) semantics, explicit zero pad and floor output
size (`jaxdl.nn.conv.convolution_2d`), pooling is the book's (`jaxdl.nn.course_pooling`),
weights are W = std * randn (untruncated) and biases 0 with each network's std.
Parameters are named in layer order, conv1, conv2, ..., affine1, affine2, ...: the book's
W1, W2, ... in the same order. Feature maps are flattened in H, W, C order (the book
flattens C, H, W; `jaxdl.reference.course_convnet.from_flax` maps the first affine's rows).
Each network's `conv_method` picks the convolution's lowering, "im2col" (the book's own),
"xla" or "auto" (im2col in training, xla in test mode; see Convolution): the same
convolution, computed differently.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import _validate
from jaxdl.nn import Dropout, normal
from jaxdl.nn.conv import convolution_2d
from jaxdl.nn.course_pooling import course_max_pooling_2d
from jaxdl.nn.dropout import FORMS


class Convolution(nn.Module):
    """The book's Convolution layer: `kernel` (k, k, in, features) = std * randn, `bias` zeros.

    `method` is convolution_2d's lowering: "im2col" (the book's own: patches times a matrix)
    or "xla" (lax.conv). On CPU, XLA runs a convolution's filter gradient inside a loop
    (lax.scan, as a compiled run is) far slower than alone, where im2col's matmuls keep their
    speed; without gradients (test mode) lax.conv is the faster one.
    """

    features: int
    ksize: int
    stride: int = 1
    pad: int = 0
    std: float = 0.01
    method: str = "im2col"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", normal(self.std), (self.ksize, self.ksize, x.shape[-1], self.features),
                            jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        return convolution_2d(x, kernel, self.stride, self.pad, self.method) + bias


CONV_METHODS = ("auto", "im2col", "xla")


def _lowering(conv_method: str, train: bool) -> str:
    """convolution_2d's method for a network's `conv_method`: "auto" is im2col in training, xla in test mode."""
    if conv_method not in CONV_METHODS:
        raise ValueError(f"unknown conv_method {conv_method!r}; choose one of {CONV_METHODS}")
    if conv_method == "auto":
        return "im2col" if train else "xla"
    return conv_method


def _affine(features: int, std: float, name: str) -> nn.Dense:
    return nn.Dense(features, kernel_init=normal(std), bias_init=nn.initializers.zeros,
                    param_dtype=jnp.float32, name=name)


def _pool(x: jax.Array) -> jax.Array:
    """The book's Pooling(pool_h=2, pool_w=2, stride=2)."""
    return course_max_pooling_2d(x, 2, stride=2)


def _check_images(module: nn.Module, x: jax.Array) -> None:
    """The course nets take NHWC float images (N, H, W, C), e.g. (N, 28, 28, 1) for MNIST, with the
    channel count their conv1 was initialised for."""
    name = type(module).__name__
    _validate.floating(name, "x", x)
    if x.ndim != 4:
        hint = "; add the channel axis, e.g. x[..., None]" if x.ndim == 3 else ""
        raise ValueError(f"{name} takes NHWC images (N, H, W, C), e.g. (N, 28, 28, 1) for MNIST, "
                         f"got shape {tuple(x.shape)}{hint}")
    conv1 = module.variables.get("params", {}).get("conv1")
    if conv1 is not None and x.shape[-1] != conv1["kernel"].shape[2]:
        channels = conv1["kernel"].shape[2]
        hint = "; that looks NCHW: transpose it with x.transpose(0, 2, 3, 1)" if x.shape[1] == channels else ""
        raise ValueError(f"{name} was initialised for {channels}-channel NHWC images, got x of shape "
                         f"{tuple(x.shape)} ({x.shape[-1]} channels){hint}")


def _check_flat_features(module: nn.Module, h: jax.Array, x: jax.Array) -> None:
    """The flattened feature map must match the affine1 the net was initialised with (else the
    image size differs from the initialising one: say so rather than fail in the matmul)."""
    affine1 = module.variables.get("params", {}).get("affine1")
    if affine1 is not None and h.shape[-1] != affine1["kernel"].shape[0]:
        raise ValueError(f"{type(module).__name__} was initialised for images whose feature map flattens to "
                         f"{affine1['kernel'].shape[0]} values, but x of shape {tuple(x.shape)} gives {h.shape[-1]}; "
                         "feed images of the size it was initialised with ((N, 28, 28, 1) for MNIST)")


def _check_std(std: float) -> None:
    if not std > 0:
        raise ValueError(f"weight_init_std must be positive, got {std!r}")


class SimpleConvNet(nn.Module):
    """Course 2_6: conv (30 x 5x5, stride 1, pad 0) -> ReLU -> pool 2/2 -> Affine 100 -> ReLU -> Affine 10.

    Every W = weight_init_std * randn (0.01), b = 0. For (N, 28, 28, 1): 24x24x30 -> 12x12x30.
    """

    filter_num: int = 30
    filter_size: int = 5
    pad: int = 0
    stride: int = 1
    hidden_size: int = 100
    output_size: int = 10
    weight_init_std: float = 0.01
    conv_method: str = "auto"

    def kernel_stds(self) -> list[float]:
        """The std of W1 (conv1), W2 (affine1), W3 (affine2)."""
        return [self.weight_init_std] * 3

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_std(self.weight_init_std)
        _check_images(self, x)
        std, method = self.weight_init_std, _lowering(self.conv_method, train)
        h = Convolution(self.filter_num, self.filter_size, self.stride, self.pad, std, method, name="conv1")(x)
        h = _pool(nn.relu(h)).reshape(x.shape[0], -1)
        _check_flat_features(self, h, x)
        h = nn.relu(_affine(self.hidden_size, std, "affine1")(h))
        return _affine(self.output_size, std, "affine2")(h)


class DoubleConvNet(nn.Module):
    """Course 2_7: conv (10 x 7x7, pad 1) -> ReLU -> conv (20 x 3x3, pad 1) -> ReLU -> pool 2/2
    -> Affine 100 -> ReLU -> Affine 10.

    Every W = weight_init_std * randn (0.01), b = 0. For (N, 28, 28, 1): 24x24x10 -> 24x24x20 -> 12x12x20.
    """

    hidden_size: int = 100
    output_size: int = 10
    weight_init_std: float = 0.01
    conv_method: str = "auto"

    def kernel_stds(self) -> list[float]:
        """The std of W1, W2 (conv1, conv2), W3, W4 (affine1, affine2)."""
        return [self.weight_init_std] * 4

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_std(self.weight_init_std)
        _check_images(self, x)
        std, method = self.weight_init_std, _lowering(self.conv_method, train)
        h = nn.relu(Convolution(10, 7, 1, 1, std, method, name="conv1")(x))
        h = nn.relu(Convolution(20, 3, 1, 1, std, method, name="conv2")(h))
        h = _pool(h).reshape(x.shape[0], -1)
        _check_flat_features(self, h, x)
        h = nn.relu(_affine(self.hidden_size, std, "affine1")(h))
        return _affine(self.output_size, std, "affine2")(h)


# Book ch08 deep_convnet.py: conv_param_1..6 as (filter_num, pad), all 3x3 stride 1; a pool after every second conv.
DEEP_CONVS = ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))
# Book: pre_node_nums = np.array([1*3*3, 16*3*3, 16*3*3, 32*3*3, 32*3*3, 64*3*3, 64*4*4, hidden_size]);
# wight_init_scales = np.sqrt(2.0 / pre_node_nums), one per conv and affine layer.
DEEP_PRE_NODE_NUMS = (1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3, 64 * 3 * 3, 64 * 4 * 4)


class DeepConvNet(nn.Module):
    """Book ch08 DeepConvNet (course 2_8), for (N, 28, 28, 1) input:

    (conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> pool 2/2) x 3 with 16, 16 | 32, 32 (pad 2) | 64, 64
    filters (28 -> 14 -> 16 -> 8 -> 4), then Affine 50 -> ReLU -> Dropout 0.5 -> Affine 10 ->
    Dropout 0.5 (on the logits, as the book). He initialisation from the book's fan-in list:
    W_i = sqrt(2 / pre_node_nums[i]) * randn. Dropout is the book's (`dropout="course"`: no
    scaling in training, x * (1 - ratio) at test) or "inverted"; it draws from the 'dropout' rng.
    """

    hidden_size: int = 50
    output_size: int = 10
    dropout_ratio: float = 0.5
    dropout: str = "course"
    conv_method: str = "auto"

    def __post_init__(self) -> None:
        if self.dropout not in FORMS:
            raise ValueError(f"unknown dropout form {self.dropout!r}; choose one of {FORMS}")
        if not 0.0 <= self.dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {self.dropout_ratio}")
        super().__post_init__()

    def kernel_stds(self) -> list[float]:
        """sqrt(2 / pre_node_nums[i]) for W1..W6 (conv1..conv6), W7, W8 (affine1, affine2)."""
        return [math.sqrt(2.0 / n) for n in (*DEEP_PRE_NODE_NUMS, self.hidden_size)]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_images(self, x)
        stds = self.kernel_stds()
        method = _lowering(self.conv_method, train)
        h = x
        for i, (features, pad) in enumerate(DEEP_CONVS, start=1):
            h = nn.relu(Convolution(features, 3, 1, pad, stds[i - 1], method, name=f"conv{i}")(h))
            if i % 2 == 0:
                h = _pool(h)
        h = h.reshape(x.shape[0], -1)
        _check_flat_features(self, h, x)
        h = nn.relu(_affine(self.hidden_size, stds[6], "affine1")(h))
        h = Dropout(self.dropout_ratio, self.dropout, name="dropout1")(h, train)
        h = _affine(self.output_size, stds[7], "affine2")(h)
        return Dropout(self.dropout_ratio, self.dropout, name="dropout2")(h, train)


CONVNETS: dict[str, type[nn.Module]] = {
    "simple": SimpleConvNet, "double": DoubleConvNet, "deep": DeepConvNet,
}


def course_init(model: nn.Module, rng: np.random.RandomState, image_shape: tuple[int, int, int] = (28, 28, 1)) -> dict:
    """The variables of a conv net as the course draws them from `rng`: for i = 1, 2, ... in layer
    order, W_i = std_i * rng.randn(*book_shape_i), b_i = 0; with rng = RandomState(s), the
    book's weights after np.random.seed(s).

    Book shapes are (out, in, kh, kw) for a convolution and (in, out) for an Affine, whose first
    one reads the pooled map in C, H, W order; each draw is then laid out as the module holds
    it. Runs on the host.
    """
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.key(0)}, jnp.zeros((1, *image_shape))))
    params = shapes["params"]
    convs = sorted((name for name in params if name.startswith("conv")), key=lambda n: int(n[len("conv"):]))
    affines = sorted((name for name in params if name.startswith("affine")), key=lambda n: int(n[len("affine"):]))
    stds = model.kernel_stds()
    if len(stds) != len(convs) + len(affines):
        raise ValueError(f"{type(model).__name__} has {len(convs) + len(affines)} weights but {len(stds)} stds")
    out = {}
    for name, std in zip(convs + affines, stds, strict=True):
        shape = params[name]["kernel"].shape
        if name in convs:  # book W (FN, C, FH, FW) -> (FH, FW, C, FN)
            kh, kw, c, o = shape
            kernel = (std * rng.randn(o, c, kh, kw)).transpose(2, 3, 1, 0)
        elif name == affines[0]:  # book rows in C, H, W order -> H, W, C
            channels = params[convs[-1]]["kernel"].shape[-1]
            side = math.isqrt(shape[0] // channels)
            kernel = (std * rng.randn(*shape)).reshape(channels, side, side, -1).transpose(1, 2, 0, 3)
        else:
            kernel = std * rng.randn(*shape)
        out[name] = {"kernel": kernel.reshape(shape).astype(np.float32),
                     "bias": np.zeros(params[name]["bias"].shape, np.float32)}
    return {"params": out}
