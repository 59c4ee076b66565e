"""Model FLOPs counted analytically from a traced program: its convolutions and matmuls, multiply-add = 2.

    count_flops(train_step, state, batch) -> FLOPs of one call (forward, backward and update)

The count walks the jaxpr of the function (jax.make_jaxpr), so it sees exactly the
convolutions and matrix products the program runs, forward and backward alike, for any model:

- dot_general: 2 * prod(batch dims) * prod(free lhs dims) * prod(free rhs dims) * prod(contracting dims)
  (an (M, K) x (K, N) product is 2 * M * N * K);
- conv_general_dilated: 2 * prod(output shape) * prod(kernel spatial dims) * input features per group
  (each output element is a dot of length kh * kw * C_in / groups); the gradients of a convolution
  are convolutions too and count the same way;
- call-like primitives (jit, custom_jvp/custom_vjp, remat, cond branches) are entered; a scan's body
  counts `length` times; a while loop's body once (its trip count is not static).

Elementwise work (activations, LRN, pooling, the optimizer's update) is not counted: "model FLOPs"
are the dense-algebra work MFU is quoted against. Chainer's Alex counts 2.27 GFLOP per image
forward; a train step about 3x less conv1's input gradient (which autodiff never computes).
"""

import math
from collections.abc import Callable
from typing import Any

import jax
from jax.extend import core

CONV = "conv_general_dilated"
DOT = "dot_general"


def dot_general_flops(lhs_shape: tuple[int, ...], rhs_shape: tuple[int, ...], dimension_numbers) -> int:
    """2 * batch * lhs-free * rhs-free * contracting sizes of lax.dot_general."""
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    batch = math.prod(lhs_shape[d] for d in lhs_batch)
    contract = math.prod(lhs_shape[d] for d in lhs_contract)
    lhs_free = math.prod(s for d, s in enumerate(lhs_shape) if d not in (*lhs_contract, *lhs_batch))
    rhs_free = math.prod(s for d, s in enumerate(rhs_shape) if d not in (*rhs_contract, *rhs_batch))
    return 2 * batch * lhs_free * rhs_free * contract


def conv_flops(rhs_shape: tuple[int, ...], out_shape: tuple[int, ...], dimension_numbers,
               feature_group_count: int = 1) -> int:
    """2 * outputs * kernel spatial size * input features per group of lax.conv_general_dilated.

    The kernel (rhs) holds I = C_in / feature_group_count input features; batch_group_count
    (the filter gradient of a grouped convolution) splits the output features, not the dot length.
    """
    rhs_spec = dimension_numbers.rhs_spec  # (out feature dim, in feature dim, *spatial dims)
    in_features = rhs_shape[rhs_spec[1]]
    window = math.prod(rhs_shape[d] for d in rhs_spec[2:])
    return 2 * math.prod(out_shape) * window * in_features


def _sub_jaxprs(eqn: core.JaxprEqn) -> list[tuple[core.Jaxpr, int]]:
    """(jaxpr, times it runs) of each program an equation calls."""
    params, name = eqn.params, eqn.primitive.name
    if name == "scan":
        return [(params["jaxpr"].jaxpr, int(params["length"]))]
    if name == "cond":  # one branch runs: count the costliest
        branches = [branch.jaxpr for branch in params["branches"]]
        costliest = max(branches, key=jaxpr_flops)
        return [(costliest, 1)]
    if name == "while":
        return [(params["body_jaxpr"].jaxpr, 1), (params["cond_jaxpr"].jaxpr, 1)]
    return [(sub, 1) for sub in core.jaxprs_in_params(params)]


def jaxpr_flops(jaxpr: core.Jaxpr) -> int:
    """The convolution and dot_general FLOPs of `jaxpr`, sub-programs included (see the module docstring)."""
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == DOT:
            total += dot_general_flops(eqn.invars[0].aval.shape, eqn.invars[1].aval.shape,
                                       eqn.params["dimension_numbers"])
        elif name == CONV:
            total += conv_flops(eqn.invars[1].aval.shape, eqn.outvars[0].aval.shape,
                                eqn.params["dimension_numbers"], eqn.params["feature_group_count"])
        else:
            total += sum(times * jaxpr_flops(sub) for sub, times in _sub_jaxprs(eqn))
    return total


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Model FLOPs of one call fn(*args, **kwargs): its traced convolutions and matmuls (traced
    abstractly, nothing runs; arguments may be jax.ShapeDtypeStruct)."""
    return jaxpr_flops(jax.make_jaxpr(fn)(*args, **kwargs).jaxpr)
