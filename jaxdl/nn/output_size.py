"""Spatial output sizes of convolution and pooling (chainer.utils.conv.get_conv_outsize)."""

from jaxdl import _validate


def _check(where: str, size: int, k: int, s: int, p: int) -> None:
    _validate.integer(where, "size", size, minimum=0)
    _validate.integer(where, "k", k, minimum=1)
    _validate.integer(where, "s", s, minimum=1)
    _validate.integer(where, "p", p, minimum=0)


def conv_output_size(size: int, k: int, s: int, p: int) -> int:
    """floor((size + 2p - k) / s) + 1: Chainer's convolution_2d (and Flax VALID after padding p).

    size >= 0, k >= 1, s >= 1 and p >= 0 are ints (else TypeError / ValueError naming them).
    """
    _check("conv_output_size", size, k, s, p)
    return (size + 2 * p - k) // s + 1


def pooling_output_size(size: int, k: int, s: int, p: int, cover_all: bool) -> int:
    """Chainer's pooling size: cover_all gives floor((size + 2p - k + s - 1) / s) + 1, else floor.

    With cover_all the last window may run past the padded input so that every input pixel
    is covered; the overhang is filled with -inf. Arguments as for conv_output_size.
    """
    _check("pooling_output_size", size, k, s, p)
    # Chainer get_conv_outsize: (size + p * 2 - k + s - 1) // s + 1 if cover_all else (size + p * 2 - k) // s + 1
    return (size + 2 * p - k + (s - 1 if cover_all else 0)) // s + 1
