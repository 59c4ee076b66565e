"""PyTorch side of experiments.bench_alexnet and experiments.benchmark: Chainer's Alex (and ResNet50) train
step in PyTorch.

Runs in any Python that has torch and numpy: it imports nothing from jaxdl, so the benchmarks
start it by path with another interpreter (--torch-python). Prints one JSON object on stdout.

    python jaxdl/bench/torch_alexnet.py --batch 32 --warmup 3 --steps 10 [--mode compile] [--dtype bfloat16]
    python jaxdl/bench/torch_alexnet.py --model resnet50 --batch 8 --warmup 2 --steps 5

--model alexnet (default; 227x227 input) or resnet50 (Chainer's ResNet50, 224x224; see chainer_resnet50);

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


class ChainerBottleNeck(nn.Module):
    """examples/imagenet/resnet50.py's BottleNeckA (project=True: the conv4/bn4 shortcut) or BottleNeckB:
    conv1 1x1 (the block's stride) -> bn1 -> ReLU -> conv2 3x3 pad 1 -> bn2 -> ReLU -> conv3 1x1 -> bn3,
    plus the shortcut, -> ReLU; convolutions without bias, BatchNormalization eps 2e-5, decay 0.9."""

    def __init__(self, in_size: int, ch: int, out_size: int, stride: int, project: bool):
        super().__init__()

        def conv_bn(cin, cout, k, s):
            return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), chainer_bn(cout))

        self.residual = nn.Sequential(conv_bn(in_size, ch, 1, stride), nn.ReLU(), conv_bn(ch, ch, 3, 1), nn.ReLU(),
                                      conv_bn(ch, out_size, 1, 1))
        self.shortcut = conv_bn(in_size, out_size, 1, stride) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


def chainer_bn(size: int) -> nn.BatchNorm2d:
    """Chainer L.BatchNormalization(size): eps 2e-5, running averages with decay 0.9 (torch momentum 0.1),
    the running variance fed the unbiased batch variance (torch does that too)."""
    return nn.BatchNorm2d(size, eps=2e-5, momentum=0.1)


def chainer_resnet50(num_classes: int = 1000) -> nn.Sequential:
    """examples/imagenet/resnet50.py ResNet50 in torch.nn (25,557,096 parameters, Chainer's count).

    Differs from torchvision's resnet50 (ResNet v1.5, 25,557,032 parameters) in three places: the
    downsampling bottleneck strides its first 1x1 convolution (v1, as Chainer and the original paper),
    torchvision its 3x3; conv1 has a bias (Chainer's default nobias=False), torchvision's none; BN eps is
    Chainer's 2e-5, torchvision's 1e-5. The stem's max pooling is Chainer's 3/2 without padding with
    cover_all (ceil_mode here), torchvision's 3/2 pad 1: both give 56x56 from 112x112. Striding the 3x3
    makes v1.5 run res3-res5's first 1x1 convolution at the block's input resolution: 4.09 GMAC per
    224x224 image forward against this network's 3.86 (convolutions and the Linear, counted by hooks).
    """
    layers = [nn.Conv2d(3, 64, 7, 2, 3), chainer_bn(64), nn.ReLU(), nn.MaxPool2d(3, stride=2, ceil_mode=True)]
    in_size = 64
    for count, ch, out_size, stride in ((3, 64, 256, 1), (4, 128, 512, 2), (6, 256, 1024, 2), (3, 512, 2048, 2)):
        for i in range(count):
            layers.append(ChainerBottleNeck(in_size, ch, out_size, stride if i == 0 else 1, project=i == 0))
            in_size = out_size
    layers += [nn.AvgPool2d(7, stride=1), nn.Flatten(), nn.Linear(2048, num_classes)]
    return nn.Sequential(*layers)


MODELS = {"alexnet": (chainer_alex, 227), "resnet50": (chainer_resnet50, 224)}  # builder, input side


def benchmark(batch: int, warmup: int, steps: int, seed: int = 0, mode: str = "eager", dtype: str = "float32",
              device: str = "cpu", model_name: str = "alexnet") -> dict:
    """Seconds per train step (forward, backward, MomentumSGD 0.01/0.9 update) of `steps` steps after
    `warmup` (at least one with --mode compile, which compiles there)."""
    torch.manual_seed(seed)
    build, side = MODELS[model_name]
    model = build().train().to(device)
    # torch SGD momentum: v = mu * v + g; w -= lr * v (equals Chainer's for a constant lr)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, 3, side, side), dtype=np.float32)).to(device)
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
    return {"framework": f"torch {torch.__version__} {mode}", "model": model_name,
            "parameters": sum(p.numel() for p in model.parameters()), "mode": mode, "dtype": dtype, "device": device,
            "threads": torch.get_num_threads(), "warmup_s": warmup_s,
            "step_times_s": times, "step_time_s": float(np.median(times)),
            "images_per_sec": batch / float(np.median(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="alexnet")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--mode", choices=["eager", "compile"], default="eager")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    print(json.dumps(benchmark(args.batch, args.warmup, args.steps, mode=args.mode, dtype=args.dtype,
                               device=args.device, model_name=args.model)))


if __name__ == "__main__":
    main()
