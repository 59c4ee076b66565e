"""One benchmark cell: a model's train step at one batch size, dtype and device count, measured.

`run_cell` builds the model's Task (jaxdl.bench.models), replicates the state over a 1-D "data"
mesh of the first `devices` devices (jaxdl.parallel.data_mesh) and shards the global batch (per-device batch x devices)
over it (data parallelism: XLA inserts the gradient all-reduce), then measures:

- compile: lowering, then XLA compilation cold (the benchmark's own, fresh persistent cache
  folder has no entry for the program) and again warm (jax.clear_caches, lower and compile once
  more: the executable is read back from that folder, `warm_compile_from_cache` says it was);
- step times (jaxdl.bench.timing: each step blocked on, so async dispatch hides nothing),
  images/s globally and per device;
- model FLOPs per step (jaxdl.bench.model_flops, from the traced step) beside XLA's cost
  analysis (of the per-device program after SPMD partitioning, times the devices), the achieved
  model FLOP/s and MFU against jaxdl.bench.peaks;
- memory: XLA's memory analysis of the executable (arguments + outputs + temporaries - aliased)
  and, where the device has an allocator that reports one, its peak bytes in use (the process's
  peak so far: allocators cannot reset it, so later cells never read lower than earlier ones).
"""

import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from jaxdl import compile_cache, parallel
from jaxdl.bench import models, peaks
from jaxdl.bench.flops import xla_flops
from jaxdl.bench.model_flops import count_flops
from jaxdl.bench.timing import summarize_times, time_steps
from jaxdl.train.state import Batch
from jaxdl.train.step import make_train_step


class Cell(NamedTuple):
    model: str
    batch_size: int  # per device
    dtype: str
    devices: int


def memory_bytes(compiled: jax.stages.Compiled) -> int | None:
    """XLA's estimate of the executable's footprint: arguments + outputs + temporaries - aliased
    (donated inputs reused as outputs); None where the backend gives no analysis."""
    try:
        analysis = compiled.memory_analysis()
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return None
    if analysis is None:
        return None
    return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes + analysis.temp_size_in_bytes
               - analysis.alias_size_in_bytes)


def allocator_peak_bytes(devices: list) -> int | None:
    """The largest peak_bytes_in_use any of `devices`' allocators reports; None where none does (CPU)."""
    found = []
    for device in devices:
        stats = device.memory_stats() if hasattr(device, "memory_stats") else None
        if stats and "peak_bytes_in_use" in stats:
            found.append(int(stats["peak_bytes_in_use"]))
    return max(found) if found else None


def synthetic_batch(cell: Cell, bench: models.BenchModel, sharding: NamedSharding, seed: int = 0) -> Batch:
    """A device-resident global batch of standard-normal images and random labels, sharded."""
    rng = np.random.default_rng(seed)
    size = cell.batch_size * cell.devices
    images = rng.standard_normal((size, *bench.input_hwc), dtype=np.float32)
    labels = rng.integers(0, bench.num_classes, size).astype(np.int32)
    return Batch(jax.device_put(images, sharding), jax.device_put(labels, sharding))


def run_cell(cell: Cell, warmup: int, steps: int, cpu_peak_flops_per_s: float | None = None,
             pipeline: Callable[[NamedSharding], Iterator[Batch]] | None = None, seed: int = 0) -> dict[str, Any]:
    """Measure `cell` (see the module docstring); returns the benchmark.json entry.

    With `pipeline` (sharding -> iterator of device batches), the step is also timed on the
    pipeline's batches (`pipeline_*` keys) beside the synthetic device-resident batch.
    """
    bench = models.get(cell.model)
    task = bench.task(cell.dtype)
    mesh = parallel.data_mesh(cell.devices)
    replicated, sharded = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    state = jax.jit(task.init, out_shardings=replicated)(jax.random.key(seed),
                                                         jnp.zeros((1, *bench.input_hwc), jnp.float32))
    batch = synthetic_batch(cell, bench, sharded, seed)
    step_fn = make_train_step(task)
    step = jax.jit(step_fn, in_shardings=(replicated, sharded), out_shardings=(replicated, replicated),
                   donate_argnums=0)
    model_flops = count_flops(step_fn, state, batch)

    events = compile_cache.events()
    started = time.perf_counter()
    lowered = step.lower(state, batch)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    cold_compile_s = time.perf_counter() - lowered_at
    jax.clear_caches()
    before = events.snapshot()
    warm_started = time.perf_counter()
    step.lower(state, batch).compile()
    warm_compile_s = time.perf_counter() - warm_started
    warm = compile_cache.since(before, events.snapshot())

    def one_step(carry):
        return compiled(carry[0], batch)

    times, pipelined_s, (state, _) = time_steps(one_step, (state, None), warmup, steps, jax.block_until_ready)
    timing = summarize_times(times)
    global_batch = cell.batch_size * cell.devices
    device = mesh.devices.flat[0]
    peak = peaks.peak_for(device.platform, device.device_kind, cell.dtype,
                          jax.config.jax_default_matmul_precision, cpu_peak_flops_per_s)
    xla_memory = memory_bytes(compiled)
    allocator_peak = allocator_peak_bytes(list(mesh.devices.flat))
    achieved = model_flops / timing["step_time_s"]
    entry = {
        "model": cell.model, "batch_size": cell.batch_size, "global_batch_size": global_batch,
        "batch_size_is": "per device", "dtype": cell.dtype, "devices": cell.devices,
        "device_kind": device.device_kind, "platform": device.platform,
        "matmul_precision": jax.config.jax_default_matmul_precision or "default", "peak_math": peak.math,
        "lower_s": lowered_at - started, "compile_s": (lowered_at - started) + cold_compile_s,
        "cold_compile_s": cold_compile_s, "warm_compile_s": warm_compile_s,
        "warm_compile_from_cache": warm["all_from_cache"],
        **timing, "pipelined_step_time_s": pipelined_s, "step_times_s": times,
        "images_per_s": global_batch / timing["step_time_s"],
        "images_per_s_per_device": global_batch / timing["step_time_s"] / cell.devices,
        "model_flops_per_step": model_flops, "model_flops_per_image": model_flops / global_batch,
        "xla_flops_per_step": xla_flops(compiled) * cell.devices,  # XLA counts the per-device program
        "achieved_flops_per_s": achieved, "peak_flops_per_s": peak.flops_per_s, "peak_source": peak.source,
        "mfu": peaks.mfu(model_flops, timing["step_time_s"], peak.flops_per_s, cell.devices),
        "xla_memory_bytes": xla_memory, "allocator_peak_bytes": allocator_peak,
        "peak_memory_bytes": allocator_peak if allocator_peak is not None else xla_memory,
        "peak_memory_source": "allocator peak_bytes_in_use" if allocator_peak is not None else "XLA memory analysis",
        "input": "synthetic",
    }
    if pipeline is not None:
        batches = pipeline(sharded)

        def pipeline_step(carry):
            return compiled(carry[0], next(batches))

        times, _, (state, _) = time_steps(pipeline_step, (state, None), warmup, steps, jax.block_until_ready)
        batches.close()
        piped = summarize_times(times)
        entry.update({"input": "pipeline", **{f"pipeline_{key}": value for key, value in piped.items()},
                      "pipeline_images_per_s": global_batch / piped["step_time_s"]})
        entry["input_bound"] = piped["step_time_s"] > 1.1 * timing["step_time_s"]
    return entry
