"""The course's convolutional networks in NumPy: the book's im2col layers with hand-written backward.

Written from the book's common/util.py (im2col, col2im), common/layers.py (Convolution,
Pooling, Affine) and the course's SimpleConvNet (2_6), DoubleConvNet (2_7) and the book's
ch08 DeepConvNet (2_8), on NCHW arrays in float64 as the course runs. Relu, Dropout (the
book's, not inverted) and SoftmaxWithLoss come from `course_numpy`. These are the references'
only im2col, convolution and im2col pooling: the tests check them against Chainer's fixtures
and use them as the oracle of jaxdl's convolution and course pooling.
"""

import math
from collections.abc import Sequence

import numpy as np

from jaxdl.reference.course_numpy import Dropout, Relu, SoftmaxWithLoss


def im2col(x: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """(N, C, H, W) -> (N * out_h * out_w, C * filter_h * filter_w): one row per output pixel."""
    n, c, h, w = x.shape
    out_h, out_w = (h + 2 * pad - filter_h) // stride + 1, (w + 2 * pad - filter_w) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, filter_h, filter_w, out_h, out_w), dtype=img.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x_ in range(filter_w):
            x_max = x_ + stride * out_w
            col[:, :, y, x_, :, :] = img[:, :, y:y_max:stride, x_:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, -1)


def col2im(col: np.ndarray, input_shape: Sequence[int], filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The adjoint of im2col: every row entry added back to the input pixel it was copied from."""
    n, c, h, w = input_shape
    out_h, out_w = (h + 2 * pad - filter_h) // stride + 1, (w + 2 * pad - filter_w) // stride + 1
    col = col.reshape(n, out_h, out_w, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x_ in range(filter_w):
            x_max = x_ + stride * out_w
            img[:, :, y:y_max:stride, x_:x_max:stride] += col[:, :, y, x_, :, :]
    return img[:, :, pad:h + pad, pad:w + pad]


class Convolution:
    """y = im2col(x) @ W.reshape(FN, -1).T + b, W of shape (FN, C, FH, FW)."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        fn, _, fh, fw = self.W.shape
        n, _, h, w = x.shape
        out_h = 1 + int((h + 2 * self.pad - fh) / self.stride)
        out_w = 1 + int((w + 2 * self.pad - fw) / self.stride)
        self.x, self.col = x, im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(fn, c, fh, fw)
        return col2im(dout @ self.col_W.T, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    """Max over each zero-padded window of im2col's rows; backward to the window's np.argmax (first maximum).

    The book sizes the output as 1 + int((H - pool_h) / stride), ignoring the pad (its reshape
    fails for pad > 0); this takes im2col's (H + 2 * pad - pool_h) // stride + 1, the same for
    pad 0, and is otherwise the book's forward and backward.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        out_h = (h + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (w + 2 * self.pad - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Affine:
    """The book's Affine: flattens (N, C, H, W) inputs to (N, C*H*W) in C, H, W order."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return (dout @ self.W.T).reshape(*self.original_x_shape)


class ConvNet:
    """A layer list in the book's style: predict, loss, accuracy and gradient over `params`.

    `params` holds W1, b1, W2, ... in layer order; the layers share those arrays, so an
    in-place optimizer update reaches them.
    """

    def __init__(self, params: dict[str, np.ndarray], layers: list):
        self.params, self.layers, self.last_layer = params, layers, SoftmaxWithLoss()

    def set_dropout_masks(self, masks: Sequence[np.ndarray]) -> None:
        """Use these masks (one per Dropout layer, in order) for the next training forward."""
        dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        for layer, mask in zip(dropouts, masks, strict=True):
            layer.next_mask = np.asarray(mask)

    def predict(self, x, train_flg=False):
        for layer in self.layers:
            x = layer.forward(x, train_flg) if isinstance(layer, Dropout) else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        return self.last_layer.forward(self.predict(x, train_flg), t)

    def accuracy(self, x, t, batch_size: int = 100) -> float:
        """The book's batched accuracy: whole batches only, divided by the full count."""
        correct = 0
        for i in range(x.shape[0] // batch_size):
            y = self.predict(x[i * batch_size:(i + 1) * batch_size], train_flg=False)
            correct += np.sum(np.argmax(y, axis=1) == t[i * batch_size:(i + 1) * batch_size])
        return correct / x.shape[0]

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        """Backprop through a train-mode forward; that forward's loss is kept in `train_loss`."""
        self.train_loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        weighted = [layer for layer in self.layers if isinstance(layer, (Convolution, Affine))]
        grads = {}
        for i, layer in enumerate(weighted, start=1):
            grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
        return grads


def _params(shapes: Sequence[tuple[int, ...]], stds: Sequence[float], rng: np.random.RandomState) -> dict:
    """W_i = std_i * rng.randn(*shape_i) in order (the book's draws after np.random.seed), b_i = 0."""
    params = {}
    for i, (shape, std) in enumerate(zip(shapes, stds, strict=True), start=1):
        params[f"W{i}"] = std * rng.randn(*shape)
        params[f"b{i}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1])
    return params


def simple_convnet(params: dict | None = None, rng: np.random.RandomState | None = None,
                   weight_init_std: float = 0.01) -> ConvNet:
    """Course 2_6: conv 30x5x5 -> Relu -> Pooling 2/2 -> Affine 4320x100 -> Relu -> Affine 100x10."""
    if params is None:
        shapes = [(30, 1, 5, 5), (30 * 12 * 12, 100), (100, 10)]
        params = _params(shapes, [weight_init_std] * 3, rng or np.random.RandomState(0))
    p = params
    return ConvNet(p, [Convolution(p["W1"], p["b1"], 1, 0), Relu(), Pooling(2, 2, stride=2),
                       Affine(p["W2"], p["b2"]), Relu(), Affine(p["W3"], p["b3"])])


def double_convnet(params: dict | None = None, rng: np.random.RandomState | None = None,
                   weight_init_std: float = 0.01) -> ConvNet:
    """Course 2_7: conv 10x7x7 pad 1 -> Relu -> conv 20x3x3 pad 1 -> Relu -> Pooling 2/2 -> 100 -> Relu -> 10."""
    if params is None:
        shapes = [(10, 1, 7, 7), (20, 10, 3, 3), (20 * 12 * 12, 100), (100, 10)]
        params = _params(shapes, [weight_init_std] * 4, rng or np.random.RandomState(0))
    p = params
    return ConvNet(p, [Convolution(p["W1"], p["b1"], 1, 1), Relu(), Convolution(p["W2"], p["b2"], 1, 1), Relu(),
                       Pooling(2, 2, stride=2), Affine(p["W3"], p["b3"]), Relu(), Affine(p["W4"], p["b4"])])


# Book ch08 DeepConvNet: (filter_num, pad) of conv_param_1..6, all 3x3 stride 1; pools after convs 2, 4, 6.
DEEP_CONVS = ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))
DEEP_PRE_NODE_NUMS = (1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3, 64 * 3 * 3, 64 * 4 * 4, 50)


def deep_convnet(params: dict | None = None, rng: np.random.RandomState | None = None) -> ConvNet:
    """Book ch08: (conv-relu-conv-relu-pool) x 3 -> Affine 50 -> Relu -> Dropout 0.5 -> Affine 10 -> Dropout 0.5.

    W_i = sqrt(2 / pre_node_nums[i]) * randn.
    """
    rng = rng or np.random.RandomState(0)
    if params is None:
        channels = [1] + [f for f, _ in DEEP_CONVS]
        shapes = [(f, channels[i], 3, 3) for i, (f, _) in enumerate(DEEP_CONVS)] + [(64 * 4 * 4, 50), (50, 10)]
        params = _params(shapes, [math.sqrt(2.0 / n) for n in DEEP_PRE_NODE_NUMS], rng)
    p = params
    layers: list = []
    for i, (_, pad) in enumerate(DEEP_CONVS, start=1):
        layers += [Convolution(p[f"W{i}"], p[f"b{i}"], 1, pad), Relu()]
        if i % 2 == 0:
            layers.append(Pooling(2, 2, stride=2))
    layers += [Affine(p["W7"], p["b7"]), Relu(), Dropout(0.5, rng), Affine(p["W8"], p["b8"]), Dropout(0.5, rng)]
    return ConvNet(p, layers)


def from_flax(params: dict) -> dict[str, np.ndarray]:
    """Book parameters (W1, b1, ...) from a jaxdl convnet's params (conv1.., affine1..).

    Conv kernels go from (kh, kw, in, out) to (out, in, kh, kw); the first Affine's rows from
    the H, W, C flatten order of NHWC feature maps to the book's C, H, W order.
    """
    convs = sorted((k for k in params if k.startswith("conv")), key=lambda k: int(k[4:]))
    affines = sorted((k for k in params if k.startswith("affine")), key=lambda k: int(k[6:]))
    out, index = {}, 1
    for name in convs:
        out[f"W{index}"] = np.asarray(params[name]["kernel"], np.float64).transpose(3, 2, 0, 1)
        out[f"b{index}"] = np.asarray(params[name]["bias"], np.float64)
        index += 1
    channels = params[convs[-1]]["kernel"].shape[-1]
    for position, name in enumerate(affines):
        kernel = np.asarray(params[name]["kernel"], np.float64)
        if position == 0:
            side = math.isqrt(kernel.shape[0] // channels)
            kernel = kernel.reshape(side, side, channels, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
        out[f"W{index}"], out[f"b{index}"] = kernel, np.asarray(params[name]["bias"], np.float64)
        index += 1
    return out
