"""The batch_norm, overfitting and convnets CLIs on a few steps of MNIST, and the NumPy bench worker."""

import json

import numpy as np
import pytest

from experiments import batch_norm, convnets, overfitting
from tests.conftest import PNG


def test_batch_norm_cli(mnist_dir, tmp_path):
    out = tmp_path / "bn"
    batch_norm.main(["--out", str(out), "--data-dir", str(mnist_dir), "--steps", "20", "--eval-every", "10",
                     "--seeds", "2", "--hidden", "8", "6", "--configs", "off", "chainer-learned"])
    assert (out / "figure.png").read_bytes()[:8] == PNG and (out / "test_accuracy.png").read_bytes()[:8] == PNG
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["runs"]] == ["off", "chainer-learned"]
    assert results["eval_steps"] == [10, 20] and results["settings"]["seeds"] == [0, 1]
    for run in results["runs"]:
        curves = np.asarray(run["test_accuracy"])
        assert curves.shape == (2, 2) and np.all((0 <= curves) & (curves <= 1))
        np.testing.assert_allclose(run["final_test_accuracy_mean"], curves[:, -1].mean())
    table = (out / "table.md").read_text().splitlines()
    assert len(table) == 4 and table[3].startswith("| BN chainer, gamma/beta learned |")


def test_overfitting_cli_evaluates_the_whole_training_subset(mnist_dir, tmp_path):
    out = tmp_path / "of"
    overfitting.main(["--out", str(out), "--data-dir", str(mnist_dir), "--steps", "20", "--eval-every", "10",
                      "--seeds", "2", "--hidden", "16", "16", "--train-size", "50", "--settings", "none", "dropout-l1"])
    assert (out / "figure.png").read_bytes()[:8] == PNG
    results = json.loads((out / "results.json").read_text())
    none, cell = results["runs"]
    assert (none["name"], cell["name"], cell["trainable"]) == ("none", "dropout-l1", "hidden_affine")
    for run in results["runs"]:
        train = np.asarray(run["train_accuracy"])
        assert train.shape == (2, 2)
        np.testing.assert_allclose(train * 50, np.round(train * 50), atol=1e-4)  # accuracies on exactly 50 images
        test = np.asarray(run["test_accuracy"])
        np.testing.assert_allclose(run["final_gap_mean"], np.mean(train[:, -1] - test[:, -1]), atol=1e-12)
        np.testing.assert_allclose(run["run_gap_mean"], np.mean(train - test), atol=1e-12)
    assert "output layer frozen" in (out / "table.md").read_text()


def test_convnets_cli(mnist_dir, tmp_path):
    out = tmp_path / "cn"
    convnets.main(["--out", str(out), "--data-dir", str(mnist_dir), "--nets", "simple", "--steps", "4",
                   "--eval-every", "2", "--seeds", "2", "--train-size", "200", "--test-size", "100"])
    assert (out / "figure_simple.png").read_bytes()[:8] == PNG
    results = json.loads((out / "results.json").read_text())
    assert (results["settings"]["train_size"], results["settings"]["test_size"]) == (200, 100)
    (run,) = results["runs"]
    assert run["steps"] == 4 and run["eval_steps"] == [2, 4]
    train = np.asarray(run["train_accuracy"])
    assert train.shape == (2, 2)
    np.testing.assert_allclose(train * 200, np.round(train * 200), atol=1e-3)
    assert "SimpleConvNet (2_6)" in (out / "table.md").read_text()


@pytest.mark.parametrize("main,flags,message", [
    (overfitting.main, ["--settings", "l3"], "settings (--settings) must name some of none, l2,"),
    (overfitting.main, ["--train-size", "0"], "train_size (--train-size) must be positive, got 0"),
    (batch_norm.main, ["--steps", "15"], "must be a multiple of eval_every"),
    (convnets.main, ["--test-size", "-1"], "test_size (--test-size) must be positive, got -1"),
    (batch_norm.main, ["--configs", "on"], "configs (--configs) must name some of off, course-frozen,"),
    (convnets.main, ["--nets", "lenet"], "nets (--nets) must name some of simple, double, deep, got ['lenet']"),
    (convnets.main, ["--seeds", "0"], "seeds (--seeds) must be a positive integer, got 0"),
])
def test_bad_flags_are_named(tmp_path, capsys, main, flags, message):
    with pytest.raises((SystemExit, ValueError)) as error:
        main(["--out", str(tmp_path), *flags])
    assert message in capsys.readouterr().err + str(error.value)
