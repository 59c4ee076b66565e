"""Dropout in the course's form and in the inverted form of Chainer and Flax."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl import _validate

FORMS = ("course", "inverted")


def _check_ratio(where: str, ratio: float | jax.Array) -> None:
    """ratio in [0, 1) (Chainer's check; 1 would drop everything and divide by 0); traced ratios pass."""
    _validate.real(where, "ratio", ratio, low=0.0, high=1.0, high_open=True)


def keep_mask(key: jax.Array, shape: tuple[int, ...], ratio: float | jax.Array) -> jax.Array:
    """The book's mask: np.random.rand(*x.shape) > dropout_ratio."""
    _check_ratio("keep_mask", ratio)
    return jax.random.uniform(key, shape) > ratio


def course_dropout(x: jax.Array, mask: jax.Array | None, ratio: float | jax.Array) -> jax.Array:
    """Book Dropout, not inverted: train x * mask; test x * (1 - ratio)."""
    _check_ratio("course_dropout", ratio)
    if mask is None:
        return x * (1.0 - ratio)
    return x * mask


def inverted_dropout(x: jax.Array, mask: jax.Array | None, ratio: float | jax.Array) -> jax.Array:
    """Chainer F.dropout / Flax: train x * mask / (1 - ratio); test x."""
    _check_ratio("inverted_dropout", ratio)
    if mask is None:
        return x
    return jnp.where(mask, x / (1.0 - ratio), 0.0)


class Dropout(nn.Module):
    """Dropout of `ratio` in `form` ("course" | "inverted"), drawing from the 'dropout' rng.

    The training mask is sown into the 'intermediates' collection (as `mask`) so a caller can
    replay it, e.g. in an oracle.
    """

    ratio: float
    form: str = "course"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        _validate.choice("Dropout", "form", self.form, FORMS)
        _check_ratio("Dropout", self.ratio)
        mask = None
        if train:
            mask = keep_mask(self.make_rng("dropout"), x.shape, self.ratio)
            self.sow("intermediates", "mask", mask)
        apply = course_dropout if self.form == "course" else inverted_dropout
        return apply(x, mask, self.ratio)
