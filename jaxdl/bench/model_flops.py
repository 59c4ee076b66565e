"""Model FLOPs counted analytically from a traced program: its convolutions and matmuls, multiply-add = 2.

    count_flops(train_step, state, batch) -> FLOPs of one call (forward, backward and update)

The count walks the jaxpr of the function (jax.make_jaxpr), so it sees exactly the
convolutions and matrix products the program runs, forward and backward alike, for any model:

- dot_general: 2 * prod(batch dims) * prod(free lhs dims) * prod(free rhs dims) * prod(contracting dims)
  (an (M, K) x (K, N) product is 2 * M * N * K);
- conv_general_dilated: 2 * prod(output shape) * prod(kernel spatial dims) * input features per group
  (each output element is a dot of length kh * kw * C_in / groups), zero padding included as usual;
  the gradients of a convolution are convolutions too and count the same way, except for the taps
  on the zeros a strided convolution's input gradient inserts (lhs_dilation), which are skipped;
- call-like primitives (jit, custom_jvp/custom_vjp, remat, cond branches) are entered; a scan's body
  counts `length` times; a while loop's body once (its trip count is not static).

Work no output depends on is dropped first (`without_dead_code`), as XLA drops it.
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


def _window_pairs(size: int, kernel: int, stride: int, pad_low: int, lhs_dilation: int, rhs_dilation: int,
                  out: int) -> int:
    """(output position, kernel tap) pairs along one spatial axis whose tap does not fall in a hole
    that lhs_dilation inserted between input elements (zero padding counts, as in the usual count)."""
    length = (size - 1) * lhs_dilation + 1
    pairs = 0
    for o in range(out):
        for k in range(kernel):
            q = o * stride + k * rhs_dilation - pad_low
            if q < 0 or q >= length or q % lhs_dilation == 0:
                pairs += 1
    return pairs


def conv_flops(lhs_shape: tuple[int, ...], rhs_shape: tuple[int, ...], out_shape: tuple[int, ...], params: dict) -> int:
    """2 * batch * output features * input features per group * the (output, tap) pairs of lax.conv_general_dilated.

    A dense convolution has out * kernel pairs per spatial axis: 2 * outputs * kh * kw * C_in / groups.
    A convolution with lhs_dilation (the input gradient of a strided convolution) skips the taps
    landing on the inserted zeros, which are no work of the model; so both gradients of a
    convolution count what its forward counts when their padding matches the forward's.
    """
    dims = params["dimension_numbers"]
    lhs_spec, rhs_spec, out_spec = dims.lhs_spec, dims.rhs_spec, dims.out_spec
    in_features = rhs_shape[rhs_spec[1]]  # C_in / feature_group_count
    outer = out_shape[out_spec[0]] * out_shape[out_spec[1]]  # batch x output features
    lhs_dilation = params.get("lhs_dilation") or (1,) * (len(lhs_spec) - 2)
    rhs_dilation = params.get("rhs_dilation") or (1,) * (len(lhs_spec) - 2)
    pairs = 1
    for axis, (lhs_dim, rhs_dim, out_dim) in enumerate(zip(lhs_spec[2:], rhs_spec[2:], out_spec[2:], strict=True)):
        pairs *= _window_pairs(lhs_shape[lhs_dim], rhs_shape[rhs_dim], params["window_strides"][axis],
                               params["padding"][axis][0], lhs_dilation[axis], rhs_dilation[axis], out_shape[out_dim])
    return 2 * outer * in_features * pairs


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
            total += conv_flops(eqn.invars[0].aval.shape, eqn.invars[1].aval.shape, eqn.outvars[0].aval.shape,
                                eqn.params)
        else:
            total += sum(times * jaxpr_flops(sub) for sub, times in _sub_jaxprs(eqn))
    return total


def without_dead_code(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """`jaxpr` less the equations no output depends on (a custom VJP's unused input gradient, say),
    as XLA removes them; `jaxpr` itself where JAX's dead-code pass (a private API) is unavailable."""
    try:
        from jax._src.interpreters import partial_eval

        return partial_eval.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[0]
    except (ImportError, AttributeError, TypeError):
        return jaxpr


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Model FLOPs of one call fn(*args, **kwargs): the convolutions and matmuls of its traced
    program that its outputs depend on (traced abstractly, nothing runs; arguments may be
    jax.ShapeDtypeStruct)."""
    return jaxpr_flops(without_dead_code(jax.make_jaxpr(fn)(*args, **kwargs).jaxpr))
