"""AlexNet (Chainer's Alex) train-step throughput: jaxdl vs eager PyTorch, same architecture.

    python -m experiments.bench_alexnet --batch 32 --warmup 3 --steps 10 --out runs/bench_alexnet

The jaxdl step is the one experiments.train_imagenet runs (forward, backward and Chainer's
MomentumSGD update, jitted, state donated). XLA's cost analysis gives the FLOPs per step,
hence the achieved GFLOP/s. The PyTorch side (jaxdl/bench/torch_alexnet.py) runs in a
subprocess, with this interpreter when it can import torch, else with --torch-python; it
is skipped, with a message, when neither has torch. The two sides alternate for --rounds
rounds; medians and best step times are reported, and the speedup from the best ones.

--breakdown also times the step's parts alone, jitted, best of --steps: each convolution's
forward, input gradient (not conv1's, whose input is the image) and filter gradient as the
model lowers them, with XLA's default CPU kernels (YNNPACK convolutions) and with the options
the step is compiled with (jaxdl.train.compile's "step": XLA's own convolution kernels); the
optimizer update alone; and a float32 GEMM for the machine's FLOP rate. "together" is a layer's
forward and gradients in one program, as a step runs them; the totals add those.
"""

import importlib.util
import json
import os
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdl.optim
from jaxdl import cli
from jaxdl.atomic import atomic_write
from jaxdl.bench import harness
from jaxdl.bench.flops import gemm_flops_per_s, xla_flops
from jaxdl.bench.harness import best_seconds, flops_per_s, spawn
from jaxdl.models.alexnet import ALEX_CONVS, AlexNet
from jaxdl.nn.conv import convolution_2d
from jaxdl.nn.output_size import conv_output_size, pooling_output_size
from jaxdl.train.compile import compiler_options
from jaxdl.train.state import Batch, Task, TrainState
from jaxdl.train.step import jit_train_step

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# The PyTorch side, run by path: it imports nothing from jaxdl, so any Python with torch runs it.
TORCH_WORKER = pathlib.Path(harness.__file__).with_name("torch_alexnet.py")


def summarize(times: list[float], batch: int) -> dict:
    """Median and best step time, and the images/s of each. On a shared machine the best
    (least disturbed) step is the steadier estimate, so speedups use it."""
    median, best = float(np.median(times)), float(np.min(times))
    return {"step_times_s": times, "step_time_s": median, "images_per_sec": batch / median,
            "best_step_time_s": best, "best_images_per_sec": batch / best}


def alex_task_and_state(dtype: str = "float32", seed: int = 0) -> tuple[Task, TrainState]:
    """The train_imagenet task (AlexNet, Chainer's MomentumSGD 0.01/0.9) and a fresh state."""
    task = Task(AlexNet(dtype=DTYPES[dtype]), jaxdl.optim.create("chainer:momentum", learning_rate=0.01, momentum=0.9),
                loss="chainer")
    return task, jax.jit(task.init)(jax.random.key(seed), jnp.zeros((1, 227, 227, 3), jnp.float32))


def jaxdl_runner(batch: int, dtype: str, seed: int = 0):
    """(info, run): run(warmup, steps) times that many jitted AlexNet train steps (forward,
    backward, Chainer's MomentumSGD; state donated) on the default device and returns the
    step times; info holds the compile time and XLA's FLOPs per step."""
    task, state = alex_task_and_state(dtype, seed)
    rng = np.random.default_rng(seed)
    data = Batch(jax.device_put(rng.standard_normal((batch, 227, 227, 3), dtype=np.float32)),
                 jax.device_put(rng.integers(0, 1000, batch).astype(np.int32)))
    start = time.perf_counter()
    compiled = jit_train_step(task).lower(state, data).compile()
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


def best_time(fn, args: tuple, options: dict, repeats: int) -> float:
    """Best seconds of jit(fn)(*args) compiled with `options` (results blocked on, one untimed call first)."""
    compiled = jax.jit(fn).lower(*args).compile(compiler_options=options)
    return best_seconds(lambda: compiled(*args), repeats, block=jax.block_until_ready)


def _with_vjp(fn, primals: tuple, cotangent):
    """fn(*primals) and its gradients for `cotangent`, from one forward pass."""
    value, vjp = jax.vjp(fn, *primals)
    return value, vjp(cotangent)


def conv_inputs(batch: int) -> list[tuple]:
    """(spec, input shape NHWC) of each AlexNet convolution, following the sizes through the net."""
    size, channels, shapes = AlexNet.insize, 3, []
    for spec in ALEX_CONVS:
        shapes.append((spec, (batch, size, size, channels)))
        size, channels = conv_output_size(size, spec.ksize, spec.stride, spec.pad), spec.features
        if spec.pool:
            size = pooling_output_size(size, 3, 2, 0, True)
    return shapes


def breakdown(batch: int, repeats: int) -> dict:
    """Seconds and GFLOP/s of each convolution pass alone (with XLA's defaults and, on CPU, with
    the step's options), the optimizer update alone, and a 2048^3 float32 GEMM's rate."""
    rng = np.random.default_rng(0)
    option_sets = {"xla_defaults": {}}
    if jax.default_backend() == "cpu":
        option_sets["step_options"] = compiler_options("step")
    layers = []
    for spec, shape in conv_inputs(batch):
        x = jnp.asarray(rng.standard_normal(shape, dtype=np.float32))
        w = jnp.asarray(rng.standard_normal((spec.ksize, spec.ksize, shape[-1], spec.features), dtype=np.float32))

        def conv(x, w, spec=spec):
            return convolution_2d(x, w, spec.stride, spec.pad, spec.method)

        gy = jnp.ones(jax.eval_shape(conv, x, w).shape, jnp.float32)
        flops = 2 * gy.size * spec.ksize ** 2 * shape[-1]  # per pass: 2 * outputs * kh * kw * C_in
        passes = {"forward": conv,
                  "filter_grad": lambda x, w, gy, conv=conv: jax.vjp(lambda v: conv(x, v), w)[1](gy)[0]}
        if spec.name == "conv1":  # the input image needs no gradient
            passes["together"] = lambda x, w, gy, conv=conv: _with_vjp(lambda v: conv(x, v), (w,), gy)
        else:
            passes["input_grad"] = lambda x, w, gy, conv=conv: jax.vjp(lambda v: conv(v, w), x)[1](gy)[0]
            passes["together"] = lambda x, w, gy, conv=conv: _with_vjp(conv, (x, w), gy)
        row = {"layer": spec.name, "gflop_per_pass": flops / 1e9}
        for pass_name, fn in passes.items():
            args = (x, w) if pass_name == "forward" else (x, w, gy)
            row[f"{pass_name}/gflop"] = flops * (len(passes) - 1 if pass_name == "together" else 1) / 1e9
            for set_name, options in option_sets.items():
                seconds = best_time(fn, args, options, repeats)
                row[f"{pass_name}/{set_name}_s"] = seconds
                row[f"{pass_name}/{set_name}_gflops_per_sec"] = flops_per_s(row[f"{pass_name}/gflop"], seconds)
        layers.append(row)
    totals = {name: sum(row[f"together/{name}_s"] for row in layers) for name in option_sets}
    task, state = alex_task_and_state()
    grads = jax.tree.map(jnp.ones_like, state.params)

    def update(params, opt_state, grads):
        updates, opt_state = task.masked_optimizer.update(grads, opt_state, params)
        return jax.tree.map(jnp.add, params, updates), opt_state

    step = jax.jit(update, donate_argnums=(0, 1)).lower(state.params, state.opt_state, grads).compile(
        compiler_options=compiler_options("step"))
    carry = [state.params, state.opt_state]

    def update_in_place():  # params and velocities donated and replaced, as in the train step
        carry[:] = step(*carry, grads)
        return carry

    update_s = best_seconds(update_in_place, repeats, block=jax.block_until_ready)
    return {"convolutions": layers, "convolution_total_s": totals, "optimizer_update_s": update_s,
            "gemm_2048_gflops_per_sec": gemm_flops_per_s() / 1e9}


def print_breakdown(result: dict) -> None:
    names = list(result["convolution_total_s"])
    print("layer  pass         GFLOP" + "".join(f"  {name + ' ms (GFLOP/s)':>28}" for name in names), file=sys.stderr)
    for row in result["convolutions"]:
        for pass_name in ("forward", "input_grad", "filter_grad", "together"):
            if f"{pass_name}/gflop" in row:
                cells = "".join(f"  {row[f'{pass_name}/{name}_s'] * 1e3:20.1f} "
                                f"({row[f'{pass_name}/{name}_gflops_per_sec']:5.0f})" for name in names)
                print(f"{row['layer']:6} {pass_name:11} {row[f'{pass_name}/gflop']:6.2f}{cells}", file=sys.stderr)
    totals = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in result["convolution_total_s"].items())
    print(f"every convolution's forward and gradients (sum of 'together'): {totals}; "
          f"optimizer update alone {result['optimizer_update_s'] * 1e3:.1f} ms; "
          f"float32 GEMM {result['gemm_2048_gflops_per_sec']:.0f} GFLOP/s", file=sys.stderr)


def bench_torch(batch: int, warmup: int, steps: int, torch_python: str | None) -> dict:
    """Run jaxdl/bench/torch_alexnet.py in a subprocess; {"skipped": why} without torch."""
    python = sys.executable if importlib.util.find_spec("torch") else torch_python
    if python is None:
        return {"skipped": "torch is not importable here; pass --torch-python PATH to a Python that has it"}
    if not os.path.exists(python):
        return {"skipped": f"--torch-python {python} does not exist"}
    command = [python, str(TORCH_WORKER), "--batch", str(batch), "--warmup", str(warmup), "--steps", str(steps)]
    result = spawn(command, check=False)
    if result.returncode:
        return {"skipped": f"the torch benchmark failed: {result.stderr.strip().splitlines()[-1:]}"}
    return result.json()


def device_description() -> dict:
    device = jax.devices()[0]
    return {"jax_device": f"{device.platform}:{device.device_kind}", "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> dict:
    parser = cli.parser(__doc__, "bench_alexnet")
    parser.add_argument("--batch", type=int, default=32, help="images per train step")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each side's timed ones")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="Alternating torch/jaxdl rounds")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="jaxdl computation dtype")
    parser.add_argument("--torch-python", help="Python with torch, for when this one has none")
    parser.add_argument("--skip-torch", action="store_true", help="time the jaxdl side only")
    parser.add_argument("--breakdown", action="store_true",
                        help="Also time each convolution pass and the optimizer update alone")
    parser.add_argument("--out", type=cli.output_folder, help="Folder to write bench_alexnet.json into")
    args = parser.parse_args(argv)
    print(f"bench_alexnet: batch {args.batch}, {args.dtype}, {args.rounds} rounds of {args.steps} steps"
          + (f"; outputs in {args.out}" if args.out else ""), flush=True)

    info, run_jaxdl = jaxdl_runner(args.batch, args.dtype)
    jax_times, torch_times, torch_info = [], [], {"skipped": "--skip-torch"}
    for _ in range(args.rounds):  # alternate, so both sides see the same background load
        if not args.skip_torch:
            torch_info = bench_torch(args.batch, args.warmup, args.steps, args.torch_python)
            torch_times += torch_info.pop("step_times_s", [])
        jax_times += run_jaxdl(args.warmup, args.steps)
    results = {"batch": args.batch, "rounds": args.rounds, "device": device_description()}
    results["jaxdl"] = {**info, **summarize(jax_times, args.batch)}
    results["jaxdl"]["gflops_per_sec"] = flops_per_s(info["xla_flops_per_step"],
                                                     results["jaxdl"]["best_step_time_s"]) / 1e9
    if torch_times:
        results["torch"] = {**torch_info, **summarize(torch_times, args.batch)}
        results["speedup_vs_torch"] = results["jaxdl"]["best_images_per_sec"] / results["torch"]["best_images_per_sec"]
        results["median_speedup_vs_torch"] = results["jaxdl"]["images_per_sec"] / results["torch"]["images_per_sec"]
    else:
        results["torch"] = torch_info
        print(f"PyTorch side skipped: {torch_info['skipped']}", file=sys.stderr)
    if args.breakdown:
        results["breakdown"] = breakdown(args.batch, args.steps)
        print_breakdown(results["breakdown"])
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.out / "bench_alexnet.json", "w") as f:
            json.dump(results, f, indent=2)
        cli.report_outputs(args.out)
    return results


if __name__ == "__main__":
    cli.run(main)
