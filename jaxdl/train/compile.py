"""Compiling and running jaxdl's training programs: XLA options and the compile/run timing split.

jaxdl compiles two kinds of program, and on CPU each gets its own XLA options (one place,
`compiler_options`; other platforms keep XLA's defaults):

- "runs": a program vmapped over independent training runs (seeds, configs, trials) that
  `compile_and_run` executes, the course experiments' and the optimizer sweep's. XLA:CPU's
  YNNPACK library fusions are all off there, so dots, convolutions and reductions run on XLA's
  own kernels, whose result for one run (on its own data, as each course seed draws its own
  batches) does not depend on how many runs share the program:
  a seed gives the same numbers alone, among 4 seeds on one device, or with the seeds split over
  4 devices (tests/test_parallel.py, tests/test_compile.py). YNNPACK's dot kernels round a run
  differently depending on the batch of runs, and a chaotic run (ReLU, Xavier, no batch norm at
  SGD 0.1) amplifies that rounding to per-cent differences within 100 steps.
- "step": a network's train or eval step on a batch of images (train_imagenet, the benchmarks,
  jaxdl.chainer's loss_and_grads). YNNPACK stays on for dots and reductions, where it is the
  faster kernel; convolutions go to XLA's own kernels, faster than YNNPACK's for the ImageNet
  example's shapes; and XLA's copy insertion uses region analysis, so the donated parameters and
  velocities are updated in place instead of copied first. Changing kernels changes float32
  rounding, and with it which pixel a max-pooling window's gradient goes to where its two
  largest inputs are within rounding of each other (tests/test_alexnet.py shows one such window).

Both use LLVM at -O1 instead of -O3: the heavy work is library calls, and -O3 only re-optimises
the small elementwise fusions around them while roughly doubling the compile time. An option
this jaxlib does not know (older or newer XLA) is left out, so the options never stop a program
from compiling; `accepted_options` says which were kept.
"""

import functools
import time
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jaxdl import parallel

ProgramKind = Literal["runs", "step"]
PROGRAM_KINDS = ("runs", "step")
# XLA:CPU's YNNPACK fusions, a repeated enum: "" is none; jaxlib 0.10.2's default is individual
# dots, individual convolutions and reductions.
YNNPACK_FUSIONS = "xla_cpu_experimental_ynn_fusion_type"
YNNPACK_DOTS_AND_REDUCTIONS = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
CPU_OPTIONS: dict[str, dict[str, Any]] = {
    "runs": {"xla_backend_optimization_level": 1, YNNPACK_FUSIONS: ""},
    "step": {"xla_backend_optimization_level": 1, YNNPACK_FUSIONS: YNNPACK_DOTS_AND_REDUCTIONS,
             "xla_cpu_copy_insertion_use_region_analysis": True},
}


@functools.cache
def _accepted(options: tuple[tuple[str, Any], ...]) -> bool:
    """Whether this jaxlib's CPU compiler takes all of `options` ((key, value) pairs): a trivial
    program compiled with them."""
    try:
        scalar = jax.device_put(jnp.zeros((), jnp.float32), jax.devices("cpu")[0])
        jax.jit(jnp.negative).lower(scalar).compile(compiler_options=dict(options))
    except Exception:  # noqa: BLE001 - XLA reports an unknown option or enum value in several ways
        return False
    return True


def accepted_options(options: dict[str, Any]) -> dict[str, Any]:
    """`options` without those this jaxlib's CPU compiler rejects (one probe when it takes them all,
    else one per option)."""
    if _accepted(tuple(sorted(options.items()))):
        return dict(options)
    return {key: value for key, value in options.items() if _accepted(((key, value),))}


def compiler_options(kind: ProgramKind = "runs", platform: str | None = None) -> dict[str, Any]:
    """XLA options for a program of `kind` ("runs" or "step", see above) compiled for `platform`
    (default: JAX's default backend): the CPU options this jaxlib accepts, else none."""
    if kind not in PROGRAM_KINDS:
        raise ValueError(f"compiler_options: kind must be one of {PROGRAM_KINDS}, got {kind!r}")
    if (platform or jax.default_backend()) != "cpu":
        return {}
    return accepted_options(CPU_OPTIONS[kind])


def compile_and_run(program, *inputs, mesh: Mesh | None = None, runs: int = 1) -> tuple[Any, float, float]:
    """(program(*inputs) ready on the host side, compile seconds, run seconds) for a jitted `program`.

    Compile seconds cover tracing, lowering and compiling with `compiler_options("runs")`; run seconds
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
    executable = program.lower(*inputs).compile(compiler_options=compiler_options("runs"))
    compiled = time.perf_counter()
    outputs = jax.block_until_ready(executable(*inputs))
    run_s = time.perf_counter() - compiled
    if sharded:
        outputs = jax.tree.map(lambda a: a[:count], parallel.to_host(outputs))
    return outputs, compiled - started, run_s
