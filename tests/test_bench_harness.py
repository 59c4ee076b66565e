"""jaxdl.bench's shared pieces: the NumPy side's environment, child processes, best-of-N, FLOP rates,
XLA's FLOP count, and the NumPy child (jaxdl.bench.numpy_course) on a few MNIST steps."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from jaxdl.bench import harness, numpy_course
from jaxdl.bench.flops import xla_flops


def test_numpy_environment_drops_exactly_the_slow_blas_variables():
    environ = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576", "OPENBLAS_NUM_THREADS": "2",
               "PATH": "/bin", "HOME": "/home/x"}
    assert harness.numpy_environment(environ) == {"OPENBLAS_NUM_THREADS": "2", "PATH": "/bin", "HOME": "/home/x"}
    assert environ["OPENBLAS_CORETYPE"] == "Haswell"  # the given mapping is left alone


def test_numpy_environment_defaults_to_this_process(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("JAXDL_HARNESS_CHECK", "kept")
    env = harness.numpy_environment()
    assert "OPENBLAS_CORETYPE" not in env and env["JAXDL_HARNESS_CHECK"] == "kept"


def test_spawn_times_the_child_and_reads_its_last_json_line():
    code = "import json, os; print('progress...'); print(json.dumps(sorted(k for k in os.environ if 'BLAS' in k)))"
    env = harness.numpy_environment({"PATH": os.environ.get("PATH", ""), "OPENBLAS_CORETYPE": "Haswell",
                                     "OPENBLAS_L2_SIZE": "1", "OPENBLAS_NUM_THREADS": "1"})
    child = harness.spawn([sys.executable, "-c", code], env=env)
    assert child.returncode == 0 and child.wall_s > 0
    assert child.json() == ["OPENBLAS_NUM_THREADS"]


def test_spawn_failures():
    failed = harness.spawn([sys.executable, "-c", "import sys; sys.exit('broken')"], check=False)
    assert failed.returncode == 1 and failed.stderr.strip() == "broken"
    with pytest.raises(ValueError, match="printed nothing"):
        failed.json()
    with pytest.raises(subprocess.CalledProcessError):
        harness.spawn([sys.executable, "-c", "raise SystemExit(3)"])


def test_python_module_command():
    assert harness.python_module("jaxdl.bench.numpy_course", "grid", "--seeds", "2") == [
        sys.executable, "-m", "jaxdl.bench.numpy_course", "grid", "--seeds", "2"]
    assert harness.python_module("x", python="/opt/py") == ["/opt/py", "-m", "x"]


def test_best_seconds_is_the_minimum_after_one_untimed_call():
    ticks = iter([10.0, 15.0, 20.0, 22.0, 30.0, 37.0])  # timed calls take 5, 2 and 7 seconds
    results, blocked = iter(range(4)), []
    best = harness.best_seconds(lambda: next(results), 3, block=blocked.append, clock=lambda: next(ticks))
    assert best == 2.0
    assert blocked == [0, 1, 2, 3]  # the untimed call's result is blocked on too


def test_fastest_keeps_the_smallest_try_and_lists_them_all():
    tries = [{"process_s": 3.0, "data_s": 1.0}, {"process_s": 1.5, "data_s": 2.0}, {"process_s": 2.0, "data_s": 0.5}]
    assert harness.fastest(tries, "process_s") == {"process_s": 1.5, "data_s": 2.0, "process_s_tries": [3.0, 1.5, 2.0]}
    assert "process_s_tries" not in tries[1]


def test_achieved_rates():
    assert harness.flops_per_s(6e9, 2.0) == 3e9
    assert harness.fraction_of_gemm(6e9, 2.0, 1.2e10) == 0.25


def test_xla_flops_of_a_function_and_of_its_compiled_program():
    a, b = jnp.ones((4, 5)), jnp.ones((5, 3))
    assert xla_flops(jnp.matmul, a, b) == 2 * 4 * 5 * 3  # a multiply and an add per term
    compiled = jax.jit(jnp.matmul).lower(a, b).compile()
    assert xla_flops(compiled) == 2 * 4 * 5 * 3
    with pytest.raises(TypeError, match="no arguments"):
        xla_flops(compiled, a, b)


def test_numpy_child_and_references_import_no_jax():
    modules = "jaxdl.bench.numpy_course, jaxdl.bench.harness, jaxdl.reference.chainer_numpy"  # numpy_course: the rest
    code = f"import sys, {modules}; print('jax' in sys.modules)"
    assert harness.spawn([sys.executable, "-c", code], cwd=harness.REPO).stdout.strip() == "False"


def test_numpy_child_course_mode(mnist_dir, capsys):
    config = {"kind": "mlp", "name": "l1", "hidden": [16, 16], "activation": "relu", "weight_init": "He",
              "batchnorm": False, "dropout": 0.1, "weight_decay": 0.0, "l1": 0.005, "trainable": "hidden_affine",
              "optimizer": "sgd", "learning_rate": 0.1}
    result = numpy_course.main(["course", "--configs", json.dumps([config, {**config, "name": "adam", "l1": 0.0,
                                                                            "trainable": "all", "optimizer": "adam"}]),
                                "--steps", "20", "--train-size", "300", "--test-size", "500",
                                "--data-dir", str(mnist_dir)])
    assert json.loads(capsys.readouterr().out) == result
    assert [r["name"] for r in result["runs"]] == ["l1", "adam"]
    assert all(r["seconds"] > 0 and 0 <= r["final_test_accuracy"] <= 1 for r in result["runs"])


def test_numpy_child_grid_and_optimizers_modes(mnist_dir, capsys):
    grid = numpy_course.main(["grid", "--configs", json.dumps([["relu", "He", False], ["sigmoid", "0.01", True]]),
                              "--seeds", "2", "--steps", "3", "--data-dir", str(mnist_dir)])
    assert grid.keys() == {"data_s", "grid_s"} and grid["grid_s"] > 0
    runs = numpy_course.main(["optimizers", "--specs", "notebook:sgd", "notebook:adam", "--seeds", "2", "--runs", "3",
                              "--steps", "2", "--eval-every", "1", "--data-dir", str(mnist_dir)])
    assert [(f["optimizer"], f["seed"]) for f in runs["final"]] == [("notebook:sgd", 0), ("notebook:adam", 0),
                                                                    ("notebook:sgd", 1)]
    assert runs["runs"] == 3 and all(0 <= f["final_test_accuracy"] <= 1 for f in runs["final"])
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [grid, runs]
