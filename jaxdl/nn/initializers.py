"""Weight initializers named after the reference that defines them."""

import math

import jax
import jax.numpy as jnp

# The course's MultiLayerNet: a number is the std; these names pick a fan-in rule.
COURSE_STD_RULES = {
    "relu": 2.0, "he": 2.0,  # std = sqrt(2 / n_in)
    "sigmoid": 1.0, "xavier": 1.0,  # std = sqrt(1 / n_in)
}


def course_std(weight_init: float | str, fan_in: int) -> float:
    """The course's weight_init_std: a positive number as is, or a case-insensitive rule name."""
    if isinstance(weight_init, str):
        rule = weight_init.lower()
        if rule not in COURSE_STD_RULES:
            raise ValueError(
                f"unknown weight init {weight_init!r}; use a positive number (the std) or one of "
                f"{sorted(COURSE_STD_RULES)} (case-insensitive)"
            )
        return math.sqrt(COURSE_STD_RULES[rule] / fan_in)
    std = float(weight_init)
    if not std > 0:
        raise ValueError(f"weight init std must be positive, got {weight_init!r}")
    return std


def normal(std: float | jax.Array):
    """Untruncated N(0, std^2), the course's `std * np.random.randn(n_in, n_out)`; std may be traced."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return (std * jax.random.normal(key, shape, jnp.float32)).astype(dtype)

    return init


def chainer_lecun_normal() -> jax.nn.initializers.Initializer:
    """Chainer's default LeCunNormal: UNtruncated N(0, 1/fan_in), fan_in = in * kh * kw.

    Flax's lecun_normal truncates at two standard deviations; Chainer's does not.
    """
    # Chainer initializers.LeCunNormal(scale=1): Normal(scale * sqrt(1 / fan_in))
    return jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")


def chainer_he_normal() -> jax.nn.initializers.Initializer:
    """Chainer's initializers.HeNormal (MSRA scaling): UNtruncated N(0, 2/fan_in), fan_in = in * kh * kw.

    For a grouped convolution fan_in counts the input channels of one group (Chainer's W is
    (out, in / groups, kh, kw)), as jax's fan_in of the HWIO kernel (kh, kw, in / groups, out) does.
    """
    # Chainer initializers.HeNormal(scale=1): Normal(scale * sqrt(2 / fan_in))
    return jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
