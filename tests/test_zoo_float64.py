"""ResNet-50 and ResNeXt-50 agree with Chainer 7.8.1 when both compute in float64.

In float32 their train-mode gradients (and ResNeXt-50's test-mode sampled gradient entries) miss the
issue's 2e-3 bound (tests/test_zoo.py, which keeps the float32 tolerances): at these weights a relative
1e-6 change of the input moves jaxdl's own float32 gradients by more than that, so float32 rounding
alone decides the gap. Here both sides start from the same float32-representable weights and input,
cast up exactly, and compute in float64: Chainer with chainer.config.dtype = float64
(tests/fixtures/zoo_<arch>_float64.npz, make_chainer_zoo_fixtures.py --float64), jaxdl with the
registry's model built with dtype=jnp.float64 on float64 variables, under JAX_ENABLE_X64=1 in a
subprocess (tests/zoo_float64_worker.py) so the rest of the suite stays float32.

Measured worst relative errors (loss, logits, every gradient's norm and sampled entries, running
statistics), resnet50 / resnext50: test mode 4.2e-15 / 3.8e-15, train mode 2.6e-13 / 2.9e-13; the
bound asserted is F64_TOL = 1e-10, far inside the issue's 2e-3.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, REPO

F64_TOL = 1e-10  # measured worst 2.9e-13 (train-mode sampled gradient entries); the bound is 2e-3
ZERO_GRAD_TOL = 1e-12  # a bias before a batch-normalization (conv1/b) in train mode: 0 up to rounding


def run_worker(arch: str, out) -> np.lib.npyio.NpzFile:
    env = {**os.environ, "JAX_ENABLE_X64": "1"}
    subprocess.run([sys.executable, "-m", "tests.zoo_float64_worker", arch, str(out)], cwd=REPO, env=env,
                   check=True, timeout=600)
    return np.load(out)


def rel_max(got, ref) -> float:
    """max |got - ref| / max |ref|."""
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


def row_errors(got_norms, ref_norms, got_samples, ref_samples, names, zero_tol: float = ZERO_GRAD_TOL) -> dict:
    """{key: worst of (relative error of the norm, ||sample - ref sample|| / ||ref sample||)}; keys whose
    reference norm is below 1e-6 of the largest (exactly 0 but for rounding) must be that small here too."""
    errors = {}
    for i, key in enumerate(map(str, names)):
        if ref_norms[i] < 1e-6 * ref_norms.max():
            assert got_norms[i] < zero_tol * ref_norms.max(), (key, got_norms[i])
            continue
        errors[key] = max(abs(got_norms[i] - ref_norms[i]) / ref_norms[i],
                          np.linalg.norm(got_samples[i] - ref_samples[i]) / np.linalg.norm(ref_samples[i]))
    return errors


@pytest.mark.parametrize("arch", ["resnet50", pytest.param("resnext50", marks=pytest.mark.slow)])  # 25 s / 45 s
def test_float64_loss_logits_gradients_and_running_statistics_match_chainer(arch, tmp_path):
    ref = np.load(FIXTURES / f"zoo_{arch}_float64.npz")
    assert str(ref["dtype"]) == "float64"
    with np.load(FIXTURES / f"zoo_{arch}.npz") as f32:  # the float32 fixture's weights and input, cast up
        assert str(ref["weights_sha256"]) == str(f32["weights_sha256"]) and str(ref["x_sha256"]) == str(f32["x_sha256"])
    got = run_worker(arch, tmp_path / "jaxdl.npz")
    assert str(got["weights_sha256"]) == str(ref["weights_sha256"]) and str(got["x_sha256"]) == str(ref["x_sha256"])
    assert {got[k].dtype for k in got.files if got[k].dtype.kind == "f"} == {np.dtype(np.float64)}

    errors = {"test/logits": rel_max(got["test/logits"], ref["test/logits"])}
    for mode in ("test", "train"):
        errors[f"{mode}/loss"] = abs(float(got[f"{mode}/loss"]) - float(ref[f"{mode}/loss"])) / abs(
            float(ref[f"{mode}/loss"]))
        grads = row_errors(got[f"{mode}/grad_norm"], ref[f"{mode}/grad_norm"], got[f"{mode}/grad_samples"],
                           ref[f"{mode}/grad_samples"], ref["grad_names"])
        assert len(grads) >= len(ref["grad_names"]) - 1  # every gradient but train mode's conv1/b (0)
        errors.update({f"{mode}/grad/{key}": e for key, e in grads.items()})
    stats = row_errors(got["train/stat_delta_norm"], ref["train/stat_delta_norm"], got["train/stat_delta_samples"],
                       ref["train/stat_delta_samples"], ref["train/stat_names"])
    assert len(stats) == len(ref["train/stat_names"])
    errors.update({f"train/stat_delta/{key}": e for key, e in stats.items()})
    for key in ("avg_mean", "avg_var"):
        errors[f"train/stat/bn1/{key}"] = rel_max(got[f"train/stat/bn1/{key}"], ref[f"train/stat/bn1/{key}"])
    worst = max(errors, key=errors.get)
    assert errors[worst] < F64_TOL, (worst, errors[worst])
