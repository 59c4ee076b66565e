"""A Dense layer's matmul whose weight gradient comes out in the weight's own layout.

    y = x . W          x (..., in), W (in, out)
    dx = g . W^T       dW = x^T . g   (contracting every axis of x but the last)

JAX's transpose rule computes dW as (g^T . x)^T: a matmul giving (out, in), then a transpose.
On CPU that transpose is a pass over W as costly as the SGD update itself, and when vmap stacks
the weights of several configs ([configs, in, out], config axis outside) XLA also re-lays the
stack for every forward matmul. Here dW is dot_general(x, g), already (in, out), so the
batched weight gradient of vmapped configs comes out [in, configs, out], the layout the
forward matmul reads (`jaxdl.train.grid` carries stacked kernels that way).
"""

import jax
from jax import lax


@jax.custom_vjp
def weight_layout_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """x (..., in) . w (in, out); its VJP computes dW = x^T . g directly in (in, out)."""
    return lax.dot_general(x, w, (((x.ndim - 1,), (0,)), ((), ())))


def _forward(x: jax.Array, w: jax.Array):
    return weight_layout_matmul(x, w), (x, w)


def _backward(residuals, g: jax.Array):
    x, w = residuals
    leading = tuple(range(x.ndim - 1))
    dx = lax.dot_general(g, w, (((g.ndim - 1,), (1,)), ((), ())))
    dw = lax.dot_general(x, g, ((leading, leading), ((), ())))
    return dx.astype(x.dtype), dw.astype(w.dtype)


weight_layout_matmul.defvjp(_forward, _backward)


def dense_dot_general(lhs: jax.Array, rhs: jax.Array, dimension_numbers, precision=None,
                      preferred_element_type=None) -> jax.Array:
    """`flax.linen.Dense(dot_general=...)`: Dense's contraction (last axis of the input with the
    kernel's first) through `weight_layout_matmul`. Reverse-mode only (custom VJP)."""
    expected = (((lhs.ndim - 1,), (0,)), ((), ()))
    (contract_l, contract_r), (batch_l, batch_r) = dimension_numbers
    given = ((tuple(contract_l), tuple(contract_r)), (tuple(batch_l), tuple(batch_r)))
    if given != expected or rhs.ndim != 2:
        raise ValueError(f"dense_dot_general computes Dense's x . W only (dimension numbers {expected}, "
                         f"2-D kernel); got {dimension_numbers} with kernel shape {rhs.shape}")
    return weight_layout_matmul(lhs, rhs)
