"""experiments.benchmark and its pieces: model FLOPs against hand counts, percentiles, peaks and MFU
arithmetic, compare's ratios, and the CLI's JSON (keys, devices axis) from a small run."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxdl.bench import model_flops, peaks, report, timing
from tests.conftest import REPO

# Chainer's Alex forward, per image, by hand: 2 * outputs * kh * kw * C_in for each convolution,
# 2 * in * out for each Linear.
ALEX_FORWARD = (2 * 55 * 55 * 96 * 11 * 11 * 3 + 2 * 27 * 27 * 256 * 5 * 5 * 96 + 2 * 13 * 13 * 384 * 3 * 3 * 256
                + 2 * 13 * 13 * 384 * 3 * 3 * 384 + 2 * 13 * 13 * 256 * 3 * 3 * 384
                + 2 * 9216 * 4096 + 2 * 4096 * 4096 + 2 * 4096 * 1000)
ALEX_CONV1 = 2 * 55 * 55 * 96 * 11 * 11 * 3


def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def test_dense_and_conv_flops_match_hand_counts_forward_and_backward():
    x, w = jnp.ones((2, 3)), jnp.ones((3, 4))
    assert model_flops.count_flops(jnp.matmul, x, w) == 2 * 2 * 3 * 4
    images, kernel = jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 4))
    forward = 2 * (3 * 3 * 4) * (3 * 3 * 2)  # 36 outputs, each a dot of length 18
    assert model_flops.count_flops(conv, images, kernel) == forward
    # the kernel's gradient: 72 outputs, each a dot over the 3x3 output map; the input's gradient:
    # a full convolution (padding 2) with 50 outputs of 3x3 taps x 4 features, padding counted
    both = jax.value_and_grad(lambda x, w: conv(x, w).sum(), argnums=(0, 1))  # the value keeps the forward
    assert model_flops.count_flops(both, images, kernel) == forward + 2 * 72 * 9 + 2 * 50 * 9 * 4


def test_a_strided_convolutions_input_gradient_skips_the_inserted_zeros():
    def strided(x, w):
        return lax.conv_general_dilated(x, w, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    images, kernel = jnp.ones((1, 5, 5, 1)), jnp.ones((1, 1, 1, 1))
    forward = 2 * 3 * 3  # 9 outputs of one tap
    assert model_flops.count_flops(strided, images, kernel) == forward
    grad_x = jax.value_and_grad(lambda x: strided(x, kernel).sum())
    # the forward again, and the input gradient: 18, not 2 * 25 (16 of its taps hit inserted zeros)
    assert model_flops.count_flops(grad_x, images) == 2 * forward


def test_work_no_output_needs_is_not_counted():
    assert model_flops.count_flops(lambda x, w: (x @ w, x)[1], jnp.ones((2, 3)), jnp.ones((3, 4))) == 0
    # the gradient of a sum needs no forward value: only the two gradient convolutions remain
    grads = jax.grad(lambda x, w: conv(x, w).sum(), argnums=(0, 1))
    assert model_flops.count_flops(grads, jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 4))) == 2 * 72 * 9 + 2 * 50 * 9 * 4


def test_batched_and_looped_matmuls_count_every_product():
    a, b = jnp.ones((7, 2, 3)), jnp.ones((7, 3, 5))
    assert model_flops.count_flops(jnp.matmul, a, b) == 7 * 2 * 2 * 3 * 5

    def looped(x, w):
        return lax.scan(lambda h, _: (h @ w, None), x, None, length=6)[0]

    assert model_flops.count_flops(looped, jnp.ones((4, 8)), jnp.ones((8, 8))) == 6 * 2 * 4 * 8 * 8


def test_alexnet_flops_per_image_match_the_hand_count():
    from jaxdl.bench import models
    from jaxdl.models.alexnet import AlexNet
    from jaxdl.train.state import Batch
    from jaxdl.train.step import make_train_step

    assert ALEX_FORWARD == 2_270_512_192  # Chainer's Alex: ~2.27 GFLOP per image forward
    task = models.get("alexnet").task("float32")
    x = jax.ShapeDtypeStruct((2, 227, 227, 3), jnp.float32)
    state = jax.eval_shape(task.init, jax.random.key(0), x)
    forward = model_flops.count_flops(lambda p, x: AlexNet().apply({"params": p}, x), state.params, x)
    assert forward == 2 * ALEX_FORWARD
    step = model_flops.count_flops(make_train_step(task), state, Batch(x, jax.ShapeDtypeStruct((2,), jnp.int32)))
    # backward: input and filter gradients of every layer, less conv1's input gradient (the image needs none)
    assert step == 2 * (3 * ALEX_FORWARD - ALEX_CONV1)
    assert 6.0e9 <= step / 2 <= 7.0e9


def test_percentiles_are_numpys_linear_ones():
    values = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2]
    for q in (0, 10, 50, 90, 100):
        assert timing.percentile(values, q) == pytest.approx(np.percentile(values, q))
    assert timing.summarize_times([3.0, 1.0, 2.0])["step_time_s"] == 2.0


def test_time_steps_blocks_on_every_timed_step():
    calls, blocked = [], []
    ticks = iter(range(100))
    times, pipelined, carry = timing.time_steps(lambda c: calls.append(c) or c + 1, 0, warmup=2, steps=3,
                                                block=lambda c: blocked.append(c) or c, clock=lambda: next(ticks))
    assert carry == 2 + 3 + 3 and len(calls) == 8
    assert blocked == [2, 3, 4, 5, 8]  # after the warm-up, after each timed step, once after the pipelined ones
    assert times == [1, 1, 1] and pipelined == pytest.approx(1 / 3)  # one clock tick for three steps


def test_peaks_and_mfu_arithmetic():
    assert peaks.lookup("NVIDIA H100 80GB HBM3")[0] == "H100 SXM"
    assert peaks.lookup("NVIDIA H100 PCIe")[0] == "H100 PCIe"
    assert peaks.lookup("NVIDIA H200")[0] == "H200"
    assert peaks.lookup("NVIDIA A100-SXM4-80GB")[0] == "A100"
    assert peaks.lookup("TPU v5 lite")[0] == "TPU v5e"
    assert peaks.lookup("TPU v5p")[0] == "TPU v5p"
    assert peaks.lookup("TPU v6 lite")[0] == "TPU v6e"
    assert peaks.lookup("Some GPU") is None
    tf32 = peaks.peak_for("gpu", "NVIDIA H200", "float32")
    assert tf32.flops_per_s == pytest.approx(494.7e12) and tf32.math == "tf32" and "TF32" in tf32.source
    assert peaks.peak_for("gpu", "NVIDIA H200", "float32", "highest").flops_per_s == pytest.approx(66.9e12)
    assert peaks.peak_for("gpu", "NVIDIA H200", "bfloat16").flops_per_s == pytest.approx(989.4e12)
    cpu = peaks.peak_for("cpu", "cpu", "float32", None, 1e11)
    assert cpu.flops_per_s == 1e11 and cpu.source.startswith("measured")
    assert peaks.peak_for("gpu", "Mystery", "float32").flops_per_s is None
    # 4 TFLOP per step in 0.5 s on 2 devices of 8 TFLOP/s each: 8 of 16 TFLOP/s
    assert peaks.mfu(4e12, 0.5, 8e12, 2) == pytest.approx(0.5)
    assert peaks.mfu(4e12, 0.5, None, 2) is None


def cells_file(images_per_s: float, step: float) -> dict:
    cell = {"model": "m", "batch_size": 8, "dtype": "float32", "devices": 1, "images_per_s": images_per_s,
            "step_time_s": step, "mfu": 0.2, "compile_s": 2.0}
    return {"metadata": {"device_kind": "cpu", "device_count": 1, "cpu_model": "x"},
            "cells": [cell, {**cell, "model": "only_here"}]}


def test_compare_matches_cells_and_gives_b_over_a_ratios():
    a, b = cells_file(100.0, 0.08), cells_file(150.0, 0.04)
    b["cells"][1]["model"] = "elsewhere"
    table, rows = report.compare(a, b)
    (row,) = rows
    assert row["images_per_s_ratio"] == pytest.approx(1.5) and row["step_time_s_ratio"] == pytest.approx(0.5)
    assert row["mfu_ratio"] == pytest.approx(1.0)
    assert "| m | float32 | 8 | 1 |" in table


def test_scaling_efficiency_is_throughput_over_n_times_one_device():
    cells = [{"model": "m", "dtype": "f", "batch_size": 4, "devices": n, "images_per_s": ips}
             for n, ips in ((1, 100.0), (2, 180.0), (4, 200.0))]
    assert [r["efficiency"] for r in report.scaling_efficiency(cells)] == pytest.approx([1.0, 0.9, 0.5])


def run_cli(*args: str, devices: int = 1, cwd=REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.run([sys.executable, "-m", "experiments.benchmark", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_writes_every_key_for_every_cell_and_the_device_axis(tmp_path):
    out = tmp_path / "out"
    done = run_cli("--models", "mlp", "--batch-sizes", "4", "--dtypes", "float32", "bfloat16", "--devices", "1", "2",
                   "--warmup", "1", "--steps", "2", "--out", str(out), devices=2)
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("[") for line in done.stdout.splitlines()) == 4  # a progress line per cell
    result = json.loads((out / "benchmark.json").read_text())
    for key in ("jax", "jaxlib", "flax", "xla_flags", "cpu_model", "device_count"):
        assert key in result["metadata"]
    assert result["metadata"]["device_count"] == 2
    assert {(c["dtype"], c["devices"]) for c in result["cells"]} == {(d, n) for d in ("float32", "bfloat16")
                                                                      for n in (1, 2)}
    for cell in result["cells"]:
        assert set(report.REQUIRED_KEYS) <= set(cell)
        assert cell["global_batch_size"] == 4 * cell["devices"]
        # forward, input and weight gradients of the three Affine layers, less the image's gradient (its
        # custom VJP computes one, which nothing uses and the count drops as XLA does)
        assert cell["model_flops_per_step"] == cell["devices"] * 4 * 2 * (3 * (784 * 40 + 40 * 20 + 20 * 10)
                                                                         - 784 * 40)
        assert cell["images_per_s"] == pytest.approx(cell["global_batch_size"] / cell["step_time_s"])
        assert cell["achieved_flops_per_s"] == pytest.approx(cell["model_flops_per_step"] / cell["step_time_s"])
        assert cell["mfu"] == pytest.approx(cell["achieved_flops_per_s"] / (cell["peak_flops_per_s"] * cell["devices"]))
        assert cell["peak_source"].startswith("measured") and cell["warm_compile_from_cache"]
        assert cell["step_time_p10_s"] <= cell["step_time_s"] <= cell["step_time_p90_s"]
    assert {"benchmark.md", "throughput.png", "scaling.png"} <= {p.name for p in out.iterdir()}
    compared = run_cli("compare", str(out / "benchmark.json"), str(out / "benchmark.json"))
    assert compared.returncode == 0 and "| mlp | float32 | 4 | 2 |" in compared.stdout
    assert "1.00" in compared.stdout


@pytest.mark.parametrize("args, message", [
    (["--devices", "0"], "--devices must be positive"),
    (["--models", "nosuchnet"], "unknown model 'nosuchnet'"),
    (["--devices", "3"], "--devices 3: only 1 cpu devices"),
])
def test_bad_flags_fail_with_one_error_line_before_work(tmp_path, args, message):
    done = run_cli(*args, "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_device_check_script_runs_on_cpu(tmp_path):
    done = subprocess.run(["bash", "experiments/device_check.sh", str(tmp_path / "check"), "--cpu"], cwd=REPO,
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "tests: exit 0" in done.stdout and "benchmark: exit 0" in done.stdout
    cells = json.loads((tmp_path / "check" / "benchmark" / "benchmark.json").read_text())["cells"]
    assert {cell["dtype"] for cell in cells} == {"float32", "bfloat16"}


def test_torch_rows_run_the_pytorch_twin_of_each_alexnet_and_resnet50_cell(tmp_path):
    """--torch-python: one PyTorch child per devices=1 alexnet / resnet50 cell and mode, told the model
    (torch_alexnet.py --model), its img/s beside jaxdl's as a ratio; other models get none. The child here
    is a stand-in that echoes its arguments (the real one needs torch)."""
    import argparse
    import stat

    from experiments.benchmark import torch_rows

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n"
                    f"echo \"$@\" >> {tmp_path / 'calls'}\n"
                    "echo '{\"framework\": \"torch x eager\", \"images_per_sec\": 4.0, \"step_time_s\": 2.0, "
                    "\"warmup_s\": 1.0, \"parameters\": 25557096}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cells = [{"model": m, "devices": d, "batch_size": 8, "dtype": "float32", "images_per_s": 2.0}
             for m, d in (("resnet50", 1), ("resnet50", 2), ("mlp", 1), ("alexnet", 1))]
    args = argparse.Namespace(torch_python=str(fake), torch_modes=["eager"], warmup=2, steps=5)
    rows = torch_rows(args, cells)["rows"]
    assert [(r["model"], r["jaxdl_speedup"], r["parameters"]) for r in rows] == [("resnet50", 0.5, 25557096),
                                                                                 ("alexnet", 0.5, 25557096)]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert [c.split()[1:3] for c in calls] == [["--model", "resnet50"], ["--model", "alexnet"]]
    assert all(c.split()[0].endswith("torch_alexnet.py") and "--batch 8 --warmup 2 --steps 5" in c for c in calls)
