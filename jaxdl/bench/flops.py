"""FLOP counts from XLA's cost analysis and a measured float32 GEMM rate (the FLOP limit)."""

import time

import jax
import jax.numpy as jnp


def xla_flops(fn, *args) -> float:
    """FLOPs XLA counts for one call of jit(fn)(*args).

    XLA counts a while loop's body once, so lower loop bodies (steps) alone and multiply.
    """
    analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(analysis, list):  # older jax returns one dict per device program
        analysis = analysis[0]
    return float(analysis["flops"])


def gemm_flops_per_s(n: int = 2048, repeats: int = 10) -> float:
    """Best float32 rate of an n x n x n matmul on the default device (2 n^3 FLOPs a call)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best
