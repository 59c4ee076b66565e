"""Weight layouts, Chainer <-> Flax. Every function is a pure permutation of entries.

Chainer: Convolution2D W is (out, in, kh, kw) on NCHW; Linear W is (out, in) with
y = x W^T; a feature map entering a Linear is flattened in C, H, W order.
Flax: Conv kernel is (kh, kw, in, out) on NHWC; Dense kernel is (in, out) with y = x K;
jaxdl flattens feature maps in H, W, C order.
The functions use only .transpose/.reshape, so they work on NumPy arrays, jax arrays and
under jax.eval_shape alike.
"""

from typing import Any

FlattenCHW = tuple[int, int, int] | None  # (C, H, W) of the feature map a Linear reads, if any


def conv_kernel_from_chainer(w: Any) -> Any:
    """(out, in, kh, kw) -> (kh, kw, in, out)."""
    return w.transpose(2, 3, 1, 0)


def conv_kernel_to_chainer(kernel: Any) -> Any:
    """(kh, kw, in, out) -> (out, in, kh, kw)."""
    return kernel.transpose(3, 2, 0, 1)


def linear_kernel_from_chainer(w: Any, flatten_chw: FlattenCHW = None) -> Any:
    """(out, in) -> (in, out); with flatten_chw, input rows reordered from C,H,W to H,W,C."""
    if flatten_chw is None:
        return w.T
    c, h, wd = flatten_chw
    return w.reshape(w.shape[0], c, h, wd).transpose(2, 3, 1, 0).reshape(h * wd * c, w.shape[0])


def linear_kernel_to_chainer(kernel: Any, flatten_chw: FlattenCHW = None) -> Any:
    """(in, out) -> (out, in); with flatten_chw, input columns reordered from H,W,C to C,H,W."""
    if flatten_chw is None:
        return kernel.T
    c, h, wd = flatten_chw
    return kernel.reshape(h, wd, c, kernel.shape[1]).transpose(3, 2, 0, 1).reshape(kernel.shape[1], c * h * wd)
