"""Spatial output sizes of convolution and pooling (chainer.utils.conv.get_conv_outsize)."""


def conv_output_size(size: int, k: int, s: int, p: int) -> int:
    """floor((size + 2p - k) / s) + 1: Chainer's convolution_2d (and Flax VALID after padding p)."""
    return (size + 2 * p - k) // s + 1


def pooling_output_size(size: int, k: int, s: int, p: int, cover_all: bool) -> int:
    """Chainer's pooling size: cover_all gives floor((size + 2p - k + s - 1) / s) + 1, else floor.

    With cover_all the last window may run past the padded input so that every input pixel
    is covered; the overhang is filled with -inf.
    """
    # Chainer get_conv_outsize: (size + p * 2 - k + s - 1) // s + 1 if cover_all else (size + p * 2 - k) // s + 1
    return (size + 2 * p - k + (s - 1 if cover_all else 0)) // s + 1
