"""Dense peak FLOP/s per accelerator and math mode, and MFU against them.

    mfu = model FLOPs per step / step seconds / (peak FLOP/s per device * devices)

The peaks are the vendors' dense figures (no 2:4 sparsity), per device (one GPU, one TPU chip):

| device | bfloat16 | TF32 | float32 (no tensor cores) |
|---|---|---|---|
| H100 SXM / H200 | 989.4 T | 494.7 T | 66.9 T |
| H100 PCIe | 756.5 T | 378.0 T | 51.2 T |
| A100 | 312 T | 156 T | 19.5 T |
| L4 | 121 T | 60 T | 30.3 T |
| TPU v4 / v5e / v5p / v6e | 275 / 197 / 459 / 918 T | - | - |

float32 matmuls and convolutions: on A100/H100/H200/L4 JAX's default precision runs them as TF32
on the tensor cores, so their peak is the TF32 one; with jax_default_matmul_precision "highest"
they run in true float32 and the float32 peak applies. On TPUs default precision runs float32
matmuls as one bfloat16 pass (the bfloat16 peak); "highest" as 6 passes (peak / 6, approximate).
A CPU has no table entry: its peak is a float32 GEMM measured in the same run (labelled
"measured"), so a CPU MFU is a fraction of what this machine's BLAS reaches, not of a datasheet.
"""

from typing import NamedTuple

T = 1e12


class Peak(NamedTuple):
    bfloat16: float
    tf32: float | None  # None: no TF32 mode (TPU)
    float32: float | None  # None: float32 runs as bfloat16 passes (TPU)


# (substrings of jax.Device.device_kind, all lower case, every one must occur) -> peak, first match wins
DEVICE_PEAKS: tuple[tuple[tuple[str, ...], str, Peak], ...] = (
    (("h100", "pcie"), "H100 PCIe", Peak(756.5 * T, 378.0 * T, 51.2 * T)),
    (("h100",), "H100 SXM", Peak(989.4 * T, 494.7 * T, 66.9 * T)),
    (("h200",), "H200", Peak(989.4 * T, 494.7 * T, 66.9 * T)),
    (("a100",), "A100", Peak(312 * T, 156 * T, 19.5 * T)),
    (("l4",), "L4", Peak(121 * T, 60 * T, 30.3 * T)),
    (("tpu v4",), "TPU v4", Peak(275 * T, None, None)),
    (("tpu v5 lite",), "TPU v5e", Peak(197 * T, None, None)),
    (("tpu v5e",), "TPU v5e", Peak(197 * T, None, None)),
    (("tpu v5",), "TPU v5p", Peak(459 * T, None, None)),
    (("tpu v6",), "TPU v6e", Peak(918 * T, None, None)),
)
HIGHEST = ("highest", "float32")  # jax_default_matmul_precision values that mean true float32


class PeakInfo(NamedTuple):
    flops_per_s: float | None  # per device; None when unknown
    source: str  # "table: H200 bfloat16", "measured: float32 GEMM 2048^3 on this CPU", "unknown: ..."
    math: str | None  # the math the matmuls run in: "bfloat16", "tf32", "float32", "bfloat16 passes"


def lookup(device_kind: str) -> tuple[str, Peak] | None:
    """(table name, Peak) of a device_kind, or None when the table has no entry."""
    kind = device_kind.lower()
    for needles, name, peak in DEVICE_PEAKS:
        if all(needle in kind for needle in needles):
            return name, peak
    return None


def peak_for(platform: str, device_kind: str, dtype: str, matmul_precision: str | None = None,
             measured_cpu_flops_per_s: float | None = None) -> PeakInfo:
    """The dense peak one device reaches for `dtype` ("float32" | "bfloat16") compute at
    `matmul_precision` (jax_default_matmul_precision; None is the default), see the module docstring."""
    if platform == "cpu":
        if measured_cpu_flops_per_s is None:
            return PeakInfo(None, "unknown: no CPU GEMM measured", None)
        return PeakInfo(measured_cpu_flops_per_s, "measured: float32 GEMM 2048^3 on this CPU, this run", "float32")
    found = lookup(device_kind)
    if found is None:
        return PeakInfo(None, f"unknown: no peak for device_kind {device_kind!r} in jaxdl/bench/peaks.py", None)
    name, peak = found
    highest = (matmul_precision or "default").lower() in HIGHEST
    if dtype == "bfloat16":
        return PeakInfo(peak.bfloat16, f"table: {name} bfloat16 dense", "bfloat16")
    if peak.float32 is None:  # TPU: float32 as bfloat16 passes
        if highest:
            return PeakInfo(peak.bfloat16 / 6, f"table: {name} bfloat16 dense / 6 (float32 at highest precision "
                            "runs 6 bfloat16 passes)", "bfloat16 passes (6)")
        return PeakInfo(peak.bfloat16, f"table: {name} bfloat16 dense (float32 at default precision runs one "
                        "bfloat16 pass)", "bfloat16 pass")
    if highest:
        return PeakInfo(peak.float32, f"table: {name} float32 dense (matmul precision highest: no TF32)", "float32")
    return PeakInfo(peak.tf32, f"table: {name} TF32 dense (float32 matmuls run as TF32 at default precision)", "tf32")


def mfu(model_flops_per_step: float, step_time_s: float, peak_flops_per_s: float | None, devices: int) -> float | None:
    """Model FLOP/s over the peak of all `devices` together; None without a peak."""
    if peak_flops_per_s is None:
        return None
    return model_flops_per_step / step_time_s / (peak_flops_per_s * devices)
