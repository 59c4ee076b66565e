"""The vanishing-gradient experiment's CLI on a few steps of MNIST: all three outputs, bad flags."""

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments import vanishing_gradient
from jaxdl import cli
from tests.conftest import PNG, REPO


def test_cli_writes_figure_results_and_table(mnist_dir, tmp_path):
    out = tmp_path / "vg"
    vanishing_gradient.main(["--out", str(out), "--data-dir", str(mnist_dir), "--steps", "20",
                             "--eval-every", "10", "--seeds", "2", "--hidden", "16", "8"])
    assert (out / "figure.png").read_bytes()[:8] == PNG
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["hidden"] == [16, 8] and results["settings"]["seeds"] == [0, 1]
    assert results["eval_steps"] == [10, 20]
    assert len(results["runs"]) == 12
    for run in results["runs"]:
        curves = np.asarray(run["test_accuracy"])
        assert curves.shape == (2, 2) and np.all((0 <= curves) & (curves <= 1))
        np.testing.assert_allclose(run["final_test_accuracy_mean"], curves[:, -1].mean())
    assert {"jax", "device", "backend"} <= results["environment"].keys()
    if results["environment"]["backend"] == "cpu":  # the options of the runs' program, YNNPACK fusions off
        assert results["environment"]["xla_options"]["xla_cpu_experimental_ynn_fusion_type"] == ""
    assert results["compile_s"] > 0 and results["wall_s"] >= results["compile_s"]
    table = (out / "table.md").read_text().splitlines()
    assert len(table) == 2 + 12 and table[2].startswith("| sigmoid | 0.01 | False |")


@pytest.mark.parametrize("flags,message", [
    (["--steps", "150"], "must be a multiple of eval_every"),
    (["--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    (["--data-dir", "/nonexistent"], "data folder /nonexistent does not exist"),
])
def test_bad_flags_fail_with_a_clear_message(tmp_path, capsys, flags, message):
    """In this process, as `python -m` runs it: cli.run(main) exits 2 with the message on stderr."""
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: vanishing_gradient.main(["--out", str(tmp_path), *flags]))
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_python_m_entry_point_exits_2_with_one_error_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "experiments.vanishing_gradient", "--out", str(tmp_path),
                             "--steps", "150"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "must be a multiple of eval_every" in result.stderr
    assert "Traceback" not in result.stderr
