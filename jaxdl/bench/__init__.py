"""The benchmarks' shared pieces; the benchmark CLIs are experiments/bench_*.py.

- harness: child processes and their JSON, the NumPy side's BLAS environment, best-of-N
  timing, achieved FLOP rates (standard library only);
- flops: XLA's FLOP counts and the measured float32 GEMM rate (imports JAX);
- numpy_course: the NumPy side of bench_course, bench_grid and bench_optimizers, a child
  process (`python -m jaxdl.bench.numpy_course`) that imports no JAX;
- torch_alexnet: the PyTorch side of bench_alexnet and benchmark (Chainer's Alex and ResNet50), run by path under
  any Python with torch.

Nothing is imported here, so a child that imports one module does not load JAX.
"""
