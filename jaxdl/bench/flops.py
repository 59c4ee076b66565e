"""FLOP counts from XLA's cost analysis and a measured float32 GEMM rate (the FLOP limit)."""

import jax
import jax.numpy as jnp

from jaxdl.bench.harness import best_seconds


def xla_flops(fn, *args) -> float:
    """FLOPs XLA counts for one call of jit(fn)(*args), or of `fn` itself when it is already
    compiled (a jax.stages.Compiled, given without args).

    XLA counts a while loop's body once, so lower loop bodies (steps) alone and multiply.
    """
    if isinstance(fn, jax.stages.Compiled):
        if args:
            raise TypeError("a compiled function's FLOPs take no arguments: they are fixed at compile time")
        compiled = fn
    else:
        compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):  # older jax returns one dict per device program
        analysis = analysis[0]
    return float(analysis["flops"])


def gemm_flops_per_s(n: int = 2048, repeats: int = 10) -> float:
    """Best float32 rate of an n x n x n matmul on the default device (2 n^3 FLOPs a call)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    return 2 * n ** 3 / best_seconds(lambda: matmul(a, b), repeats, block=jax.block_until_ready)
