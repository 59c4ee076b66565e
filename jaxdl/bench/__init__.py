"""Benchmark helpers: the machine's float32 matmul rate and XLA's FLOP counts."""

from jaxdl.bench.flops import gemm_flops_per_s, xla_flops

__all__ = ["gemm_flops_per_s", "xla_flops"]
