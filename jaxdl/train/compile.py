"""Compiling and running jaxdl's training programs: XLA options and the compile/run timing split."""

import time
from typing import Any

import jax


def compiler_options() -> dict[str, int]:
    """On CPU, LLVM at -O1 instead of -O3 (the default).

    The heavy work is matmuls and convolutions, which are library calls; -O3 only re-optimises
    the small elementwise fusions around them and roughly doubles the compile time of a training
    program (experiments/bench_grid.py and bench_optimizers.py time the compiles).
    """
    return {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else {}


def compile_and_run(program, *inputs) -> tuple[Any, float, float]:
    """(program(*inputs) ready on the host side, compile seconds, run seconds) for a jitted `program`.

    Compile seconds cover tracing, lowering and compiling with `compiler_options()`; run seconds
    the compiled call until its outputs are ready (jax.block_until_ready).
    """
    started = time.perf_counter()
    executable = program.lower(*inputs).compile(compiler_options=compiler_options())
    compiled = time.perf_counter()
    outputs = jax.block_until_ready(executable(*inputs))
    return outputs, compiled - started, time.perf_counter() - compiled
