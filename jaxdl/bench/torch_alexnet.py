"""PyTorch side of experiments.bench_alexnet and experiments.benchmark: Chainer's Alex train step in PyTorch.

Runs in any Python that has torch and numpy: it imports nothing from jaxdl, so the benchmarks
start it by path with another interpreter (--torch-python). Prints one JSON object on stdout.

    python jaxdl/bench/torch_alexnet.py --batch 32 --warmup 3 --steps 10 [--mode compile] [--dtype bfloat16]

--mode eager (default) or compile (torch.compile of the model; compile time reported apart, in
the warm-up); --dtype float32 (default) or bfloat16 (torch.autocast: parameters and optimizer
float32, matmuls and convolutions bfloat16, as jaxdl's mixed precision); --device cpu or cuda
(steps synchronised with torch.cuda.synchronize before each clock read).
"""

import argparse
import json
import time

import numpy as np
import torch
from torch import nn


def chainer_alex(num_classes: int = 1000) -> nn.Sequential:
    """examples/imagenet/alex.py Alex in torch.nn: explicit pads, LRN after ReLU in blocks 1-2,
    ceil-mode pooling (Chainer's cover_all gives the same sizes here), inverted dropout 0.5."""
    # Chainer LRN(n=5, k=2, alpha=1e-4, beta=.75) == torch LocalResponseNorm(5, alpha=5 * 1e-4, beta=.75, k=2)
    def lrn() -> nn.LocalResponseNorm:
        return nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)

    def pool() -> nn.MaxPool2d:
        return nn.MaxPool2d(3, stride=2, ceil_mode=True)

    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), pool(),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), lrn(), pool(),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), pool(),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


def benchmark(batch: int, warmup: int, steps: int, seed: int = 0, mode: str = "eager", dtype: str = "float32",
              device: str = "cpu") -> dict:
    """Seconds per train step (forward, backward, MomentumSGD 0.01/0.9 update) of `steps` steps after
    `warmup` (at least one with --mode compile, which compiles there)."""
    torch.manual_seed(seed)
    model = chainer_alex().train().to(device)
    # torch SGD momentum: v = mu * v + g; w -= lr * v (equals Chainer's for a constant lr)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, 3, 227, 227), dtype=np.float32)).to(device)
    labels = torch.from_numpy(rng.integers(0, 1000, batch)).to(device)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if mode == "compile" else model
    autocast = dtype == "bfloat16"

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast):
            logits = forward(x)
        loss_fn(logits.float(), labels).backward()
        optimizer.step()

    started = time.perf_counter()
    for _ in range(max(warmup, 1 if mode == "compile" else 0)):
        step()
    sync()
    warmup_s = time.perf_counter() - started
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return {"framework": f"torch {torch.__version__} {mode}", "mode": mode, "dtype": dtype, "device": device,
            "threads": torch.get_num_threads(), "warmup_s": warmup_s,
            "step_times_s": times, "step_time_s": float(np.median(times)),
            "images_per_sec": batch / float(np.median(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--mode", choices=["eager", "compile"], default="eager")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    print(json.dumps(benchmark(args.batch, args.warmup, args.steps, mode=args.mode, dtype=args.dtype,
                               device=args.device)))


if __name__ == "__main__":
    main()
