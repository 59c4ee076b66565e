"""Compiling and running jaxdl's training programs: XLA options and the compile/run timing split."""

import time
from typing import Any

import jax
from jax.sharding import Mesh

from jaxdl import parallel


def compiler_options() -> dict[str, int]:
    """On CPU, LLVM at -O1 instead of -O3 (the default).

    The heavy work is matmuls and convolutions, which are library calls; -O3 only re-optimises
    the small elementwise fusions around them and roughly doubles the compile time of a training
    program (experiments/bench_grid.py and bench_optimizers.py time the compiles).
    """
    return {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else {}


def compile_and_run(program, *inputs, mesh: Mesh | None = None, runs: int = 1) -> tuple[Any, float, float]:
    """(program(*inputs) ready on the host side, compile seconds, run seconds) for a jitted `program`.

    Compile seconds cover tracing, lowering and compiling with `compiler_options()`; run seconds
    the compiled call until its outputs are ready (jax.block_until_ready).

    With a `mesh` of several devices (jaxdl.parallel.data_mesh), the first `runs` inputs hold a
    leading axis of R independent runs (seeds): it is padded to a multiple of the device count
    (repeating the last run) and split over the devices; the other inputs are replicated. The
    program, vmapped over that axis, then runs each device's share on that device with no
    communication, and every output, which must carry the same leading axis, comes back as NumPy
    arrays of its first R runs, whole in every process.
    """
    sharded = mesh is not None and mesh.size > 1
    if sharded:
        count = jax.tree.leaves(inputs[0])[0].shape[0]
        size = parallel.padded_size(count, mesh)
        inputs = tuple(parallel.put_runs(mesh, parallel.pad_leading(x, size)) if i < runs
                       else parallel.put_replicated(mesh, x) for i, x in enumerate(inputs))
    started = time.perf_counter()
    executable = program.lower(*inputs).compile(compiler_options=compiler_options())
    compiled = time.perf_counter()
    outputs = jax.block_until_ready(executable(*inputs))
    run_s = time.perf_counter() - compiled
    if sharded:
        outputs = jax.tree.map(lambda a: a[:count], parallel.to_host(outputs))
    return outputs, compiled - started, run_s
