"""Accelerator benchmark: img/s, model FLOP/s, MFU, compile time and memory across models, batch sizes, dtypes, devices.

    python -m experiments.benchmark --models alexnet mlp --batch-sizes 16 32 --dtypes float32 bfloat16 --out runs/bench
    python -m experiments.benchmark --models alexnet --devices 1 2 4 --out runs/scaling     # data parallel
    python -m experiments.benchmark --models alexnet --input pipeline --out runs/pipeline  # real input path
    python -m experiments.benchmark compare runs/a/benchmark.json runs/b/benchmark.json

Every cell (model x batch size x dtype x devices) trains the model's real train step (forward,
backward, optimizer update; jaxdl.bench.models) on a device-resident synthetic batch:
--batch-sizes are per device and the global batch is per-device batch x devices (data parallel
over a 1-D mesh; on CPU XLA_FLAGS=--xla_force_host_platform_device_count=N gives N devices, which
share the same cores: their timings are no scaling measurement). Reported per cell: compile time
cold and warm (the run compiles into a fresh persistent-cache folder of its own, then reads the
program back), step time p50/p10/p90 (each step timed from dispatch until its outputs are ready,
so async dispatch hides nothing), img/s globally and per device, model FLOPs counted from the
traced step (convolutions and matmuls, multiply-add = 2) beside XLA's count, achieved FLOP/s and
MFU against the device's dense peak (jaxdl.bench.peaks; on CPU a float32 GEMM measured in this
run), and memory. --input pipeline also times the step fed by train_imagenet's input path
(image list, JPEG decode, random crop, flip, mean; jaxdl.data.pipeline) and says if it is input-bound.
--torch-python PY adds the same Chainer Alex (and Chainer's ResNet50, for resnet50 cells) in PyTorch
(eager and/or torch.compile, float32 and bfloat16 autocast) on the same device, as ratios.
Outputs in --out: benchmark.json, benchmark.md, throughput.png (and scaling.png for several device
counts). One progress line per cell.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

from jaxdl import cli
from jaxdl.bench import report

DTYPES = ("float32", "bfloat16")
INPUTS = ("synthetic", "pipeline")
LOADER_KINDS = ("auto", "thread", "process")
PRECISIONS = ("default", "high", "highest")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "benchmark")
    parser.add_argument("--models", nargs="+", default=["alexnet"],
                        help="models by name: mlp, simpleconvnet, deepconvnet, and every jaxdl.chainer.ARCHS "
                             "entry (alex as alexnet)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32], help="batch sizes per device")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=["float32"],
                        help="compute dtypes (parameters and optimizer state stay float32)")
    parser.add_argument("--devices", nargs="+", type=int, default=[1], help="device counts (data parallel)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed ones")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per cell")
    parser.add_argument("--input", choices=INPUTS, default="synthetic",
                        help="synthetic device-resident batches, or also the image-list pipeline")
    parser.add_argument("--loader", choices=LOADER_KINDS, default="auto",
                        help="pipeline workers: threads, processes, or auto (the faster when measured)")
    parser.add_argument("--workers", type=int, default=None, help="pipeline workers (default: CPU cores)")
    parser.add_argument("--pipeline-images", type=int, default=64, help="JPEG images the pipeline's list holds")
    parser.add_argument("--matmul-precision", choices=PRECISIONS, default="default",
                        help="jax_default_matmul_precision of float32 matmuls (GPU default: TF32)")
    parser.add_argument("--torch-python", help="Python with torch: add Chainer's Alex and ResNet50 in PyTorch side "
                        "by side (the alexnet and resnet50 cells)")
    parser.add_argument("--torch-modes", nargs="+", choices=["eager", "compile"], default=["eager"],
                        help="PyTorch modes to run beside jaxdl's AlexNet and ResNet-50 cells")
    parser.add_argument("--out", type=cli.output_folder, required=True, default=argparse.SUPPRESS,
                        help="output folder")
    args = parser.parse_args(argv)
    for name in ("batch_sizes", "devices"):
        if any(value < 1 for value in getattr(args, name)):
            parser.error(f"--{name.replace('_', '-')} must be positive integers, got {getattr(args, name)}")
    if args.steps < 1 or args.warmup < 0:
        parser.error(f"--steps must be >= 1 and --warmup >= 0, got {args.steps} and {args.warmup}")
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.pipeline_images < 1:
        parser.error(f"--pipeline-images must be >= 1, got {args.pipeline_images}")
    if args.torch_python and not os.path.exists(args.torch_python):
        parser.error(f"--torch-python {args.torch_python} does not exist")
    return args


def metadata(args: argparse.Namespace) -> dict:
    import flax
    import jax
    import jaxlib
    import optax

    from jaxdl.report.results import cpu_model

    device = jax.devices()[0]
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "flax": flax.__version__, "optax": optax.__version__,
            "python": platform.python_version(), "platform": device.platform, "device_kind": device.device_kind,
            "device_count": jax.device_count(), "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "matmul_precision": args.matmul_precision,
            "warmup": args.warmup, "steps": args.steps, "input": args.input,
            "timing": "each step timed from dispatch until jax.block_until_ready on its outputs returns",
            "batch_size": "per device; global batch = batch_size x devices",
            "command": "python -m experiments.benchmark " + " ".join(sys.argv[1:])}


def write_images(folder: pathlib.Path, count: int, side: int, channels: int) -> tuple[list, object]:
    """`count` random JPEGs of side x side (a "path label" list's examples) and their mean image."""
    import numpy as np
    from PIL import Image

    from jaxdl.data.imagelist import Example, compute_mean

    rng = np.random.default_rng(0)
    examples = []
    for i in range(count):
        pixels = rng.integers(0, 256, (side, side, channels), dtype=np.uint8)
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(folder / f"{i}.jpg", quality=90)
        examples.append(Example(f"{i}.jpg", i % 10))
    return examples, compute_mean(examples, folder).transpose(1, 2, 0)


def measure_loader(loader, batch: int, workers: int, kind: str, batches: int = 8) -> dict:
    """Decoded images/s of `batches` batches of `batch` through the pool alone (no device)."""
    import numpy as np

    from jaxdl.data.pipeline import prefetch

    rng = np.random.default_rng(0)
    requests = [(rng.integers(0, len(loader), batch), i) for i in range(batches + workers)]
    iterator = prefetch(loader, requests, workers, kind, depth=2 * workers)
    for _ in range(workers):  # the pool's start (a spawned process imports NumPy and PIL) is not the rate
        next(iterator)
    started = time.perf_counter()
    for _ in iterator:
        pass
    rate = batches * batch / (time.perf_counter() - started)
    cores = min(workers, os.cpu_count() or 1)
    return {"kind": kind, "workers": workers, "images_per_s": rate, "images_per_s_per_core": rate / cores}


def setup_pipeline(args, bench, folder: pathlib.Path, batch: int) -> tuple[dict, object]:
    """(loader measurements and verdict, make(sharding) -> iterator of device batches)."""
    import jax
    import numpy as np

    from jaxdl.data.pipeline import ImageListLoader, prefetch
    from jaxdl.train.state import Batch

    height, _, channels = bench.input_hwc
    side = -(-height * 256 // 227)  # train_imagenet crops 227 out of 256
    examples, mean = write_images(folder, args.pipeline_images, side, channels)
    loader = ImageListLoader(examples, folder, mean, height)
    workers = args.workers or os.cpu_count() or 1
    kinds = ["thread", "process"] if args.loader == "auto" else [args.loader]
    measured = [measure_loader(loader, batch, workers, kind) for kind in kinds]
    best = max(measured, key=lambda row: row["images_per_s"])
    verdict = (f"{best['kind']}s chosen ({best['images_per_s']:.0f} decoded img/s with {workers} workers, "
               f"{best['images_per_s_per_core']:.0f} per core)")
    if len(measured) > 1:
        verdict += f"; the other: {min(row['images_per_s'] for row in measured):.0f} img/s"

    def make(sharding):
        rng = np.random.default_rng(1)

        def requests():
            iteration = 0
            while True:
                yield rng.integers(0, len(loader), batch * sharding.mesh.size), iteration
                iteration += 1

        def put(loaded):
            return Batch(jax.device_put(loaded[0], sharding), jax.device_put(loaded[1], sharding))

        return prefetch(loader, requests(), workers, best["kind"], depth=2 * workers, put=put)

    return {"measurements": measured, "chosen": best["kind"], "workers": workers, "verdict": verdict,
            "images": args.pipeline_images, "image_side": side}, make


TORCH_MODELS = ("alexnet", "resnet50")  # the models jaxdl/bench/torch_alexnet.py builds (--model)


def torch_rows(args, cells: list[dict]) -> dict:
    """The PyTorch model at every (model, batch size, dtype) of the devices=1 alexnet and resnet50 cells, each
    mode."""
    from experiments.bench_alexnet import TORCH_WORKER
    from jaxdl.bench.harness import spawn

    rows = []
    targets = [c for c in cells if c["model"] in TORCH_MODELS and c["devices"] == 1]
    import jax

    device = "cuda" if jax.default_backend() == "gpu" else "cpu"
    for cell in targets:
        for mode in args.torch_modes:
            command = [args.torch_python, str(TORCH_WORKER), "--model", cell["model"], "--batch",
                       str(cell["batch_size"]), "--warmup", str(max(args.warmup, 1)), "--steps", str(args.steps),
                       "--mode", mode, "--dtype", cell["dtype"], "--device", device]
            child = spawn(command, check=False)
            if child.returncode:
                rows.append({"model": cell["model"], "batch_size": cell["batch_size"], "framework": f"torch {mode}",
                             "dtype": cell["dtype"], "images_per_s": None,
                             "error": child.stderr.strip().splitlines()[-1:]})
                continue
            result = child.json()
            row = {"model": cell["model"], "batch_size": cell["batch_size"], "dtype": cell["dtype"],
                   "framework": f"{result['framework']} {cell['dtype']}", "images_per_s": result["images_per_sec"],
                   "step_time_s": result["step_time_s"], "warmup_s": result["warmup_s"],
                   "parameters": result.get("parameters")}
            row["jaxdl_speedup"] = cell["images_per_s"] / row["images_per_s"]
            rows.append(row)
            print(f"  torch {cell['model']} {mode} {cell['dtype']} b{cell['batch_size']}: "
                  f"{row['images_per_s']:.1f} img/s; jaxdl / torch {row['jaxdl_speedup']:.2f}", flush=True)
    return {"note": "same device, same invocation; jaxdl_speedup = jaxdl img/s / torch img/s", "rows": rows}


def run(args: argparse.Namespace) -> dict:
    from jaxdl import compile_cache

    cache = tempfile.mkdtemp(prefix="jaxdl-benchmark-cache-")  # fresh: the first compile of each cell is cold
    compile_cache.configure(cache)
    import jax

    if args.matmul_precision != "default":
        jax.config.update("jax_default_matmul_precision", args.matmul_precision)
    from jaxdl.bench import models
    from jaxdl.bench.cells import Cell, run_cell
    from jaxdl.bench.flops import gemm_flops_per_s

    for name in args.models:
        models.get(name)  # an unknown name fails here, before any work
    if max(args.devices) > jax.local_device_count():
        raise ValueError(f"--devices {max(args.devices)}: only {jax.local_device_count()} {jax.default_backend()} "
                         "devices here (on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N)")
    result = {"metadata": metadata(args), "cells": []}
    cpu_peak = gemm_flops_per_s() if jax.default_backend() == "cpu" else None
    result["metadata"]["cpu_gemm_flops_per_s"] = cpu_peak
    cells = [Cell(m, b, d, n) for m in args.models for d in args.dtypes for b in args.batch_sizes for n in args.devices]
    work = pathlib.Path(tempfile.mkdtemp(prefix="jaxdl-benchmark-images-"))
    try:
        for number, cell in enumerate(cells, start=1):
            pipeline = None
            if args.input == "pipeline":
                folder = work / f"{cell.model}-{cell.batch_size}"
                folder.mkdir(exist_ok=True)
                result["pipeline"], pipeline = setup_pipeline(args, models.get(cell.model), folder,
                                                              cell.batch_size)
            entry = run_cell(cell, args.warmup, args.steps, cpu_peak, pipeline)
            result["cells"].append(entry)
            mfu = "-" if entry["mfu"] is None else f"{100 * entry['mfu']:.1f}%"
            extra = (f"; pipeline {entry['pipeline_images_per_s']:.1f} img/s"
                     f"{' (input-bound)' if entry['input_bound'] else ''}" if pipeline else "")
            print(f"[{number}/{len(cells)}] {cell.model} {cell.dtype} batch {cell.batch_size}/device x "
                  f"{cell.devices}: {entry['images_per_s']:.1f} img/s, step {entry['step_time_s'] * 1e3:.1f} ms "
                  f"[{entry['step_time_p10_s'] * 1e3:.1f}, {entry['step_time_p90_s'] * 1e3:.1f}], MFU {mfu}, compile "
                  f"{entry['compile_s']:.2f} s cold / {entry['warm_compile_s']:.2f} s warm{extra}", flush=True)
        if args.torch_python:
            result["torch"] = torch_rows(args, result["cells"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return result


def write(result: dict, out: pathlib.Path) -> None:
    from jaxdl.report.results import write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "benchmark.json", result)
    from jaxdl.atomic import atomic_write

    with atomic_write(out / "benchmark.md", "w") as f:
        f.write(report.markdown(result))
    report.plots(result, out)


def compare_main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark compare",
                                     description="Print two benchmark.json files side by side, with B / A ratios.")
    parser.add_argument("a", help="benchmark.json A")
    parser.add_argument("b", help="benchmark.json B")
    args = parser.parse_args(argv)
    files = []
    for path in (args.a, args.b):
        try:
            with open(path) as f:
                files.append(json.load(f))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON ({error})") from error
        if "cells" not in files[-1]:
            raise ValueError(f"{path} is not a benchmark.json (no 'cells')")
    table, rows = report.compare(*files)
    print(table, end="")
    return {"rows": rows}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    args = parse_args(argv)
    from jaxdl.atomic import check_writable_folder

    check_writable_folder(args.out)
    print(f"benchmark: {' '.join(args.models)} x batch {args.batch_sizes} x {args.dtypes} x devices {args.devices}, "
          f"{args.input} input; outputs in {args.out}", flush=True)
    result = run(args)
    write(result, args.out)
    cli.report_outputs(args.out)
    return result


if __name__ == "__main__":
    cli.run(main)
