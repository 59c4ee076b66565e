"""The optimizer-comparison experiment: its outputs on a few MNIST steps, its compiled runs against
the NumPy course loop with the NumPy optimizer formulas, and its errors for bad flags."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import optimizers as optimizers_cli
from jaxdl import optim
from jaxdl.course import optimizers
from jaxdl.reference import course_numpy, course_training
from jaxdl.reference import optimizers as numpy_optimizers
from jaxdl.train.compile import compile_and_run
from jaxdl.train.run import Data, Schedule
from jaxdl.train.state import Task
from tests.conftest import PNG, REPO


@pytest.fixture(scope="module")
def outputs(mnist_dir, tmp_path_factory):
    """One small CLI run: 2 optimizers x 2 seeds, 20 steps, evals every 10, a 2-rate sweep (one rate diverges)."""
    out = tmp_path_factory.mktemp("optimizers")
    optimizers_cli.main(["--out", str(out), "--data-dir", str(mnist_dir), "--steps", "20", "--eval-every", "10",
                     "--seeds", "2", "--optimizers", "notebook:sgd", "notebook:momentum",
                     "--hparam", "notebook:momentum:learning_rate=0.2", "--target", "0.2",
                     "--lr-sweep", "--sweep-lrs", "0.1", "1e38", "--sweep-eval-every", "10"])
    return out, json.loads((out / "results.json").read_text())


def test_cli_writes_curves_per_seed_and_settings(outputs):
    out, results = outputs
    for name in ("accuracy.png", "loss.png", "lr_sweep.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert results["settings"]["seeds"] == [0, 1] and results["settings"]["test_size"] == 10000
    assert results["eval_steps"] == [10, 20]
    assert [r["optimizer"] for r in results["runs"]] == ["notebook:sgd", "notebook:momentum"]
    for run in results["runs"]:
        assert np.asarray(run["step_loss"]).shape == (2, 20)
        for key in ("batch_loss", "batch_accuracy", "test_loss", "test_accuracy"):
            assert np.asarray(run[key]).shape == (2, 2), key
        final = np.asarray(run["test_accuracy"])[:, -1]
        assert run["final_test_accuracy_median"] == pytest.approx(np.median(final))
        assert run["final_test_accuracy_min"] == pytest.approx(final.min())
        assert len(run["steps_to_target"]) == 2
    sgd, momentum = results["runs"]
    assert sgd["course"] == [0.1135, 0.1135] and momentum["course"] is None  # overridden: no course number
    assert momentum["hparams"] == {"learning_rate": 0.2}
    assert momentum["formula"].startswith("notebook:momentum — ")
    assert momentum["formula"].endswith("| learning_rate=0.2, momentum=0.9")
    assert {"jax", "device", "backend"} <= results["environment"].keys()
    assert results["load_s"] > 0 and results["compile_s"] > 0 and results["run_s"] > 0
    assert results["wall_s"] >= results["compile_s"] + results["run_s"]


def test_table_lists_every_optimizer_and_formula(outputs):
    out, results = outputs
    table = (out / "table.md").read_text()
    lines = table.splitlines()
    assert lines[0].startswith("| optimizer | final test accuracy, median [min, max] of 2 seeds |")
    median = results["runs"][0]["final_test_accuracy_median"]
    assert lines[2].startswith(f"| notebook:sgd | {median:.3f} [") and "| 0.1135 |" in lines[2]
    assert lines[3].startswith("| notebook:momentum |") and lines[3].endswith("| - |")
    assert f"compile {results['compile_s']:.1f} s, run {results['run_s']:.1f} s" in table
    assert "- notebook:momentum — " in table and "v = momentum * v - learning_rate * g" in table


def test_lr_sweep_records_diverged_rates(outputs):
    _, results = outputs
    sweep = results["lr_sweep"]
    assert sweep["learning_rates"] == [0.1, 1e38] and sweep["compile_s"] > 0
    for run in sweep["runs"]:
        assert run["diverged"] == [[False, True], [False, True]]
        final = run["final_test_accuracy"]
        assert [row[1] for row in final] == [None, None]
        assert all(0 <= row[0] <= 1 for row in final)


def test_steps_to_target_is_the_first_eval_at_or_above_it():
    accuracy = np.array([[0.5, 0.91, 0.95], [0.2, 0.3, 0.4], [0.9, 0.1, 0.1]])
    assert optimizers.steps_to_target(accuracy, np.array([10, 20, 30]), 0.9) == [20, None, 10]


def tiny_data(n_train=64, n_test=40, features=12, seed=0) -> Data:
    rng = np.random.default_rng(seed)
    return Data(jnp.asarray(rng.random((n_train, features), dtype=np.float32)),
                jnp.asarray(rng.integers(0, 10, n_train, dtype=np.int32)),
                jnp.asarray(rng.random((n_test, features), dtype=np.float32)),
                jnp.asarray(rng.integers(0, 10, n_test, dtype=np.int32)))


def numpy_seed_loop(seed: int, opt, data: Data, schedule: Schedule) -> dict:
    """The seed's 2_4 loop in float64 NumPy after np.random.seed(seed): the course network (W and b
    only, no batch norm) draws its weights, each step draws its batch with np.random.choice, takes
    the gradient and `opt.update`s the parameters; evals every eval_every steps."""
    rng = np.random.RandomState(seed)
    net = course_numpy.MultiLayerNet(12, [8, 6], 10, activation="sigmoid", weight_init_std=0.01, rng=rng)
    assert list(net.params) == numpy_optimizers.affine_keys(net.params)
    x, t, x_test, t_test = (np.asarray(a) for a in (data.train_images, data.train_labels, data.test_images,
                                                    data.test_labels))

    def batch(step: int) -> np.ndarray:
        return rng.choice(x.shape[0], schedule.batch_size)

    curves = course_training.train(net, opt, x, t, x_test, t_test, schedule.steps, schedule.eval_every, batch,
                                   train_accuracy="batch", loss="train_forward")
    curves["params"] = net.params
    return curves


def at(tree, index):
    """Every array of `tree` indexed by `index` (one run out of the program's stacked runs)."""
    return jax.tree.map(lambda a: a[index], tree)


def assert_matches_numpy(history, final_params, oracle: dict, label: str) -> None:
    np.testing.assert_allclose(history.step_loss, oracle["loss"], rtol=2e-5, err_msg=label)
    np.testing.assert_allclose(history.test_accuracy, oracle["test_accuracy"], atol=1 / 40, err_msg=label)  # a tie
    np.testing.assert_allclose(history.batch_accuracy, oracle["train_accuracy"], atol=1 / 5, err_msg=label)
    for key, value in course_numpy.from_flax({"params": final_params}).items():
        np.testing.assert_allclose(value, oracle["params"][key], rtol=1e-4, atol=1e-6, err_msg=f"{label} {key}")


def test_compiled_runs_equal_numpy_seed_loops():
    """20 steps of Momentum, seed AdaGrad and Adam in one experiment program, each against the
    course's NumPy network, seeding and loop with the optimizer's formula written in NumPy."""
    specs = ["notebook:momentum", "notebook:adagrad", "notebook:adam"]
    model = optimizers.course_network(12, [8, 6], batchnorm=False)
    schedule, data = Schedule(20, 5, 10), tiny_data()
    tasks = {spec: Task(model, optim.create(spec), trainable="affine") for spec in specs}
    inputs = optimizers.course_seed_inputs(model, [11, 12], schedule, 64)
    outputs, _, _ = compile_and_run(optimizers.comparison_program(tasks, schedule), inputs, data)
    for index, seed in enumerate([11, 12]):
        for spec in specs:
            states, history = outputs[spec]
            oracle = numpy_seed_loop(seed, numpy_optimizers.make(spec), data, schedule)
            assert_matches_numpy(at(history, index), at(states.params, index), oracle, f"{spec} seed {seed}")


def test_sweep_member_equals_numpy_loop_at_its_learning_rate():
    model = optimizers.course_network(12, [8, 6], batchnorm=False)
    schedule, data = Schedule(20, 5, 10), tiny_data()
    rates = [0.05, 0.4]
    task = Task(model, optim.create("notebook:momentum", inject=True), trainable="affine")
    program = optimizers.sweep_program({"momentum": task}, schedule)
    inputs = optimizers.course_seed_inputs(model, [4], schedule, 64)
    outputs, _, _ = compile_and_run(program, inputs, jnp.asarray(rates), data)
    states, history = outputs["momentum"]
    for member, rate in enumerate(rates):
        oracle = numpy_seed_loop(4, numpy_optimizers.make("notebook:momentum", learning_rate=rate), data, schedule)
        assert_matches_numpy(at(history, (0, member)), at(states.params, (0, member)), oracle, f"learning rate {rate}")


@pytest.mark.parametrize("flags,message", [
    (["--optimizers", "notebook:nesterov"], "notebook:nesterov does not exist"),
    (["--optimizers", "torch:sgd"], "unknown optimizer family 'torch'"),
    (["--optimizers", "notebook:adamw"], "unknown optimizer 'adamw' in family 'notebook'"),
    (["--hparam", "notebook:adam:learning_rate"], "expected FAMILY:NAME:KEY=VALUE"),
    (["--hparam", "learning_rate=0.1"], "expected FAMILY:NAME:KEY=VALUE"),
    (["--hparam", "notebook:adam:learning_rate=fast"], "'fast' is not a number"),
    (["--optimizers", "notebook:sgd", "--hparam", "notebook:adam:learning_rate=0.1"],
     "'notebook:adam', which is not in"),
    (["--hparam", "notebook:sgd:momentum=0.9"], "notebook:sgd has no hyperparameter momentum"),
    (["--lr-sweep", "--sweep-lrs", "0.1", "0"], "--sweep-lrs must be positive"),
    (["--optimizers", "notebook:sgd", "notebook:adam", "notebook:sgd"], "lists a spec twice"),
    (["--lr-sweep", "--sweep-eval-every", "300"],
     r"--sweep-eval-every \(300\) must be positive and divide --steps \(1000\)"),
])
def test_bad_inputs_fail_before_any_work(tmp_path, flags, message):
    with pytest.raises(ValueError, match=message):
        optimizers_cli.main(["--out", str(tmp_path), "--data-dir", "/nonexistent", *flags])


def test_cli_reports_bad_spec_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "experiments.optimizers", "--out", str(tmp_path),
                             "--optimizers", "notebook:nesterov"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: notebook:nesterov does not exist") and "Traceback" not in result.stderr
