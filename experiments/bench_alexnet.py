"""AlexNet (Chainer's Alex) train-step throughput: jaxdl vs eager PyTorch, same architecture.

    python -m experiments.bench_alexnet --batch 32 --warmup 3 --steps 10 --out bench.json

The jaxdl step is the one experiments.train_imagenet runs (forward, backward and Chainer's
MomentumSGD update, jitted, state donated). XLA's cost analysis gives the FLOPs per step,
hence the achieved GFLOP/s. The PyTorch side (experiments.bench_alexnet_torch) runs in a
subprocess, with this interpreter when it can import torch, else with --torch-python; it
is skipped, with a message, when neither has torch. The two sides alternate for --rounds
rounds; medians and best step times are reported, and the speedup from the best ones.
"""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdl.optim
from jaxdl.atomic import atomic_write
from jaxdl.models.alexnet import AlexNet
from jaxdl.train.state import Batch, Task
from jaxdl.train.supervised import make_train_step

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def xla_flops(compiled) -> float:
    """FLOPs of one call of a compiled jax function, from XLA's cost analysis."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):  # older jax returns one dict per device
        analysis = analysis[0]
    return float(analysis["flops"])


def summarize(times: list[float], batch: int) -> dict:
    """Median and best step time, and the images/s of each. On a shared machine the best
    (least disturbed) step is the steadier estimate, so speedups use it."""
    median, best = float(np.median(times)), float(np.min(times))
    return {"step_times_s": times, "step_time_s": median, "images_per_sec": batch / median,
            "best_step_time_s": best, "best_images_per_sec": batch / best}


def jaxdl_runner(batch: int, dtype: str, seed: int = 0):
    """(info, run): run(warmup, steps) times that many jitted AlexNet train steps (forward,
    backward, Chainer's MomentumSGD; state donated) on the default device and returns the
    step times; info holds the compile time and XLA's FLOPs per step."""
    model = AlexNet(dtype=DTYPES[dtype])
    task = Task(model, jaxdl.optim.create("chainer:momentum", learning_rate=0.01, momentum=0.9), loss="chainer")
    state = jax.jit(task.init)(jax.random.key(seed), jnp.zeros((1, 227, 227, 3), jnp.float32))
    rng = np.random.default_rng(seed)
    data = Batch(jax.device_put(rng.standard_normal((batch, 227, 227, 3), dtype=np.float32)),
                 jax.device_put(rng.integers(0, 1000, batch).astype(np.int32)))
    start = time.perf_counter()
    compiled = make_train_step(task).lower(state, data).compile()
    info = {"framework": f"jax {jax.__version__} (jaxdl)", "dtype": dtype,
            "compile_s": time.perf_counter() - start, "xla_flops_per_step": xla_flops(compiled)}
    holder = {"state": state}

    def run(warmup: int, steps: int) -> list[float]:
        times = []
        for i in range(warmup + steps):
            start = time.perf_counter()
            holder["state"], metrics = compiled(holder["state"], data)
            jax.block_until_ready((holder["state"], metrics))
            if i >= warmup:
                times.append(time.perf_counter() - start)
        return times

    return info, run


def bench_torch(batch: int, warmup: int, steps: int, torch_python: str | None) -> dict:
    """Run experiments.bench_alexnet_torch in a subprocess; {"skipped": why} without torch."""
    python = sys.executable if importlib.util.find_spec("torch") else torch_python
    if python is None:
        return {"skipped": "torch is not importable here; pass --torch-python PATH to a Python that has it"}
    if not os.path.exists(python):
        return {"skipped": f"--torch-python {python} does not exist"}
    command = [python, "-m", "experiments.bench_alexnet_torch", "--batch", str(batch),
               "--warmup", str(warmup), "--steps", str(steps)]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    if result.returncode:
        return {"skipped": f"the torch benchmark failed: {result.stderr.strip().splitlines()[-1:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def device_description() -> dict:
    device = jax.devices()[0]
    return {"jax_device": f"{device.platform}:{device.device_kind}", "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="AlexNet train-step throughput, jaxdl vs PyTorch")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="Alternating torch/jaxdl rounds")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="jaxdl computation dtype")
    parser.add_argument("--torch-python", help="Python with torch, for when this one has none")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--out", help="Write the results as JSON here too")
    args = parser.parse_args(argv)

    info, run_jaxdl = jaxdl_runner(args.batch, args.dtype)
    jax_times, torch_times, torch_info = [], [], {"skipped": "--skip-torch"}
    for _ in range(args.rounds):  # alternate, so both sides see the same background load
        if not args.skip_torch:
            torch_info = bench_torch(args.batch, args.warmup, args.steps, args.torch_python)
            torch_times += torch_info.pop("step_times_s", [])
        jax_times += run_jaxdl(args.warmup, args.steps)
    results = {"batch": args.batch, "rounds": args.rounds, "device": device_description()}
    results["jaxdl"] = {**info, **summarize(jax_times, args.batch)}
    results["jaxdl"]["gflops_per_sec"] = info["xla_flops_per_step"] / results["jaxdl"]["best_step_time_s"] / 1e9
    if torch_times:
        results["torch"] = {**torch_info, **summarize(torch_times, args.batch)}
        results["speedup_vs_torch"] = results["jaxdl"]["best_images_per_sec"] / results["torch"]["best_images_per_sec"]
        results["median_speedup_vs_torch"] = results["jaxdl"]["images_per_sec"] / results["torch"]["images_per_sec"]
    else:
        results["torch"] = torch_info
        print(f"PyTorch side skipped: {torch_info['skipped']}", file=sys.stderr)
    print(json.dumps(results, indent=2))
    if args.out:
        with atomic_write(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
