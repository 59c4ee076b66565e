"""Data parallelism (jaxdl.parallel): several virtual CPU devices and several processes on localhost.

Multi-device runs start subprocesses with XLA_FLAGS=--xla_force_host_platform_device_count=N
(JAX reads it once, at start); multi-process runs start one subprocess per process, joined by
jax.distributed on a free localhost port, each with a timeout and its exit code checked. The
oracle is always the same computation on one device. Timings here mean nothing: the virtual
devices share the machine's cores.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from jaxdl import parallel
from tests.conftest import REPO, SHARED_MNIST

TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def environment(devices: int, **extra: str) -> dict[str, str]:
    """This environment with `devices` host devices, and MNIST where conftest's mnist_dir finds it."""
    env = {"JAXDL_DATA_DIR": str(SHARED_MNIST), **os.environ,
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", **extra}
    env.pop("JAX_PLATFORMS", None)
    return env


def run_module(module: str, *args: str, devices: int = 1, timeout: float = TIMEOUT_S, **extra: str):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=environment(devices, **extra),
                          capture_output=True, text=True, timeout=timeout)


def run_processes(module: str, *args: str, processes: int = 2, devices: int = 2, flag_style: str = "-",
                  per_process: tuple[tuple[str, ...], ...] | None = None, check: bool = True):
    """`module` as `processes` processes of `devices` devices each (process i also gets the flags
    per_process[i]); returns their CompletedProcesses after checking every exit code (with `check`)."""
    port = free_port()
    names = [f"--{name.replace('_', flag_style)}" for name in ("coordinator_address", "num_processes", "process_id")]
    per_process = per_process or ((),) * processes
    commands = [[sys.executable, "-m", module, *args, *per_process[index], names[0], f"localhost:{port}", names[1],
                 str(processes), names[2], str(index)] for index in range(processes)]
    running = [subprocess.Popen(command, cwd=REPO, env=environment(devices), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for command in commands]
    results = []
    try:
        for process, command in zip(running, commands, strict=True):
            out, err = process.communicate(timeout=TIMEOUT_S)
            results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    finally:
        for process in running:
            process.kill()
    for index, result in enumerate(results):
        assert not check or result.returncode == 0, \
            f"process {index} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return results


# --- settings checked before any work -------------------------------------------------------------------------


@pytest.mark.parametrize("processes, message", [
    (parallel.Processes("localhost:1234", 2, 2), "--process_id must be between 0 and 1 for --num_processes 2, got 2"),
    (parallel.Processes("localhost:1234", 2, -1), "--process_id must be between 0 and 1"),
    (parallel.Processes("localhost:1234", 0, 0), "--num_processes must be a positive integer, got 0"),
    (parallel.Processes("localhost:1234", None, 0), "needs --num_processes N and --process_id I"),
    (parallel.Processes("localhost", 2, 0), "must be HOST:PORT"),
    (parallel.Processes(None, 2, 1), "need --coordinator_address HOST:PORT"),
    (parallel.Processes("auto", 2, 0), "auto detects the processes"),
])
def test_inconsistent_process_flags_are_named(processes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        processes.check()


def test_one_process_needs_no_flags():
    parallel.Processes().check()
    parallel.Processes(None, 1, 0).check()
    parallel.Processes("auto").check()
    parallel.Processes("10.0.0.1:1234", 4, 3).check()


def test_more_devices_than_the_process_has_is_an_error():
    with pytest.raises(ValueError, match=r"--devices 5 is more than the 1 cpu device this process has"):
        parallel.data_mesh(5)
    with pytest.raises(ValueError, match=r"--devices must be a positive integer, got 0"):
        parallel.data_mesh(0)


def test_a_batch_that_does_not_split_evenly_names_the_numbers():
    result = run_module("experiments.train_imagenet", "-a", "alex", "--synthetic", "--batchsize", "30",
                        "--out", "unused", devices=4, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "--batchsize 30 (the global batch) must divide evenly over the 4 devices" in result.stderr
    assert "30 = 7 x 4 + 2; give 28 or 32" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--devices", "8"), "--devices 8 is more than the 4 cpu devices this process has"),
    (("--coordinator_address", "localhost:1", "--num_processes", "2", "--process_id", "2"),
     "--process_id must be between 0 and 1 for --num_processes 2, got 2"),
])
def test_train_imagenet_refuses_devices_and_processes_that_do_not_exist(args, message, tmp_path):
    result = run_module("experiments.train_imagenet", "-a", "alex", "--synthetic", "--out", str(tmp_path / "out"),
                        *args, devices=4, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_coordinator_that_never_answers_fails_within_the_timeout_naming_it(tmp_path):
    """Process 1 of 2 waits JAXDL_INITIALIZATION_TIMEOUT seconds for process 0, then says so (exit 2)."""
    port = free_port()  # nobody listens there
    result = run_module("experiments.vanishing_gradient", "--steps", "10", "--eval-every", "10",
                        "--coordinator-address", f"localhost:{port}", "--num-processes", "2", "--process-id", "1",
                        "--out", str(tmp_path / "out"), timeout=60, JAXDL_INITIALIZATION_TIMEOUT="3")
    assert result.returncode == 2, result.stderr
    assert f"the coordinator at localhost:{port} did not answer within 3 s" in result.stderr
    assert "Traceback" not in result.stderr


def test_processes_started_with_different_settings_stop_with_an_error(tmp_path):
    results = run_processes("experiments.vanishing_gradient", "--steps", "20", "--eval-every", "10",
                            "--out", str(tmp_path / "out"), per_process=(("--seed", "0"), ("--seed", "1")), check=False)
    for result in results:
        assert result.returncode == 2, result.stderr[-2000:]
        assert "the processes were started with different --steps, --batch-size, --eval-every, --seeds or --seed: " \
               "[[20, 100, 10, 1, 0], [20, 100, 10, 1, 1]]" in result.stderr
    assert not (tmp_path / "out").exists()


# --- same numbers on one device and on many --------------------------------------------------------------------


def test_alexnet_train_step_on_4_devices_equals_the_1_device_step(tmp_path):
    """Loss, every gradient and every updated parameter of one step on a global batch of 8."""
    result = run_module("tests.parallel_worker", "alexnet_step", str(tmp_path / "out.json"), devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads((tmp_path / "out.json").read_text())
    assert found["devices"] == 4
    assert found["loss"] < 1e-6 and found["step_loss"] < 1e-6
    assert len(found["gradients"]) == 16 and max(found["gradients"].values()) < 1e-5, found["gradients"]
    assert max(found["params"].values()) < 1e-5, found["params"]
    assert found["params_changed"] > 1e-4  # the step did move the parameters


def course_curves(folder) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["runs"]


def assert_same_curves(runs, reference, accuracy_tolerance=0.002, loss_tolerance=1e-3):
    """Per-seed curves equal: accuracies within `accuracy_tolerance`, losses within `loss_tolerance` relative."""
    assert len(runs) == len(reference)
    for run, ref in zip(runs, reference, strict=True):
        for key in ("test_accuracy", "batch_accuracy"):
            np.testing.assert_allclose(run[key], ref[key], rtol=0, atol=accuracy_tolerance, err_msg=key)
        for key in ("batch_loss", "step_loss"):
            np.testing.assert_allclose(run[key], ref[key], rtol=loss_tolerance, err_msg=key)


# the scale-out acceptance: 200 steps, where a chaotic run (ReLU, Xavier, no batch norm) shows any
# difference in rounding between 4 seeds on one device and one seed per device
VANISHING = ("experiments.vanishing_gradient", "--seeds", "4", "--steps", "200", "--eval-every", "100")


@pytest.fixture(scope="module")
def vanishing_on_one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    result = run_module(*VANISHING, "--out", str(out), devices=1)
    assert result.returncode == 0, result.stderr[-3000:]
    return course_curves(out)


def test_vanishing_gradient_seeds_split_over_4_devices_equal_one_device(vanishing_on_one_device, tmp_path):
    result = run_module(*VANISHING, "--devices", "4", "--out", str(tmp_path / "out"), devices=4)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Mesh: 1 process x 4 devices (cpu), 4 in all" in result.stdout
    assert_same_curves(course_curves(tmp_path / "out"), vanishing_on_one_device)
    environment = json.loads((tmp_path / "out" / "results.json").read_text())["environment"]
    assert (environment["devices"], environment["processes"]) == (4, 1)


def test_vanishing_gradient_as_2_processes_equals_one_device_and_writes_once(vanishing_on_one_device, tmp_path):
    """The cheap multi-process test: 2 processes x 2 devices on localhost, seeds split over all 4."""
    results = run_processes(*VANISHING, "--out", str(tmp_path / "out"))
    assert all("Mesh: 2 processes x 2 devices (cpu), 4 in all" in r.stdout for r in results)
    out = tmp_path / "out"
    assert [(f"outputs in {out}/:" in r.stdout, "| sigmoid |" in r.stdout) for r in results] == [(True, True),
                                                                                              (False, False)]
    assert_same_curves(course_curves(tmp_path / "out"), vanishing_on_one_device)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["figure.png", "results.json", "table.md"]
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]  # no staging folder left beside it


def test_seeds_that_do_not_fill_the_devices_are_padded_and_cut(vanishing_on_one_device, tmp_path):
    """3 seeds on 2 devices: the program runs 4 (the last repeated) and reports the 3."""
    args = ["--seeds" if a == "--seeds" else a for a in VANISHING]
    args[args.index("--seeds") + 1] = "3"
    result = run_module(*args, "--devices", "2", "--out", str(tmp_path / "out"), devices=2)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = course_curves(tmp_path / "out")
    assert len(runs[0]["test_accuracy"]) == 3
    reference = [{key: value[:3] if isinstance(value, list) else value for key, value in run.items()}
                 for run in vanishing_on_one_device]
    assert_same_curves(runs, reference)


def test_convnet_seeds_in_turn_split_over_devices_equal_one_device(tmp_path):
    """seed_axis "map" (a lax.map over seeds) runs each device's block of seeds in turn."""
    args = ("experiments.convnets", "--nets", "simple", "--steps", "6", "--eval-every", "3", "--seeds", "4",
            "--train-size", "200", "--test-size", "100")
    one = run_module(*args, "--devices", "1", "--out", str(tmp_path / "one"), devices=4)
    four = run_module(*args, "--devices", "4", "--out", str(tmp_path / "four"), devices=4)
    assert one.returncode == 0 and four.returncode == 0, one.stderr[-2000:] + four.stderr[-2000:]
    (run_one,), (run_four,) = course_curves(tmp_path / "one"), course_curves(tmp_path / "four")
    for key in ("test_accuracy", "train_accuracy"):
        if key in run_one:
            np.testing.assert_allclose(run_four[key], run_one[key], atol=0.002)
    np.testing.assert_allclose(run_four["step_loss"], run_one["step_loss"], rtol=1e-3)


# --- train_imagenet on 1 device, 4 devices and 2 processes (slow: AlexNet compiles in every process) -----------

IMAGENET = ("experiments.train_imagenet", "-a", "alex", "--synthetic", "--synthetic_size", "64", "--batchsize", "16",
            "--val_batchsize", "10", "--iteration", "3", "--snapshot_interval", "1", "--val_interval", "3",
            "--log_interval", "1", "--seed", "0")


def layer_changes(folder, first: int = 1, last: int = 3) -> dict[str, np.ndarray]:
    """Per Chainer parameter, model_iter_<last> - model_iter_<first> in float64."""
    with np.load(folder / f"model_iter_{first}") as a, np.load(folder / f"model_iter_{last}") as b:
        return {key: b[key].astype(np.float64) - a[key] for key in a.files}


def relative_errors(found: dict, reference: dict) -> dict[str, float]:
    return {key: float(np.linalg.norm(found[key] - reference[key]) / np.linalg.norm(reference[key]))
            for key in reference}


@pytest.fixture(scope="module")
def imagenet_runs(tmp_path_factory):
    """The acceptance runs: 1 device, 4 devices, 2 processes x 2 devices (validation batches of 10 of the 64
    examples: on 4 devices each is padded to 12, the last, of 4, is not)."""
    root = tmp_path_factory.mktemp("imagenet")
    for name, devices in (("one", 1), ("four", 4)):
        result = run_module(*IMAGENET, "--devices", str(devices), "--out", str(root / name), devices=4)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    processes = run_processes(*IMAGENET, "--out", str(root / "two_processes"), flag_style="_")
    return root, processes


@pytest.mark.slow
def test_train_imagenet_on_4_devices_and_2_processes_equals_1_device(imagenet_runs):
    root, processes = imagenet_runs
    reference = layer_changes(root / "one")
    assert len(reference) == 16
    for name in ("four", "two_processes"):
        errors = relative_errors(layer_changes(root / name), reference)
        assert max(errors.values()) < 1e-3, (name, errors)
        logs = [json.loads((root / run / "log").read_text()) for run in ("one", name)]
        for key in ("main/loss", "validation/main/loss", "validation/main/accuracy"):
            found, expected = [[entry.get(key) for entry in log] for log in logs]
            np.testing.assert_allclose(np.array(found, float), np.array(expected, float), rtol=1e-4, err_msg=key)
    assert "Mesh: 2 processes x 2 devices (cpu), 4 in all" in processes[0].stdout
    assert "Batch: 16 global, 4 per device, 8 per process" in processes[1].stdout
    assert "main/loss" in processes[0].stdout and "main/loss" not in processes[1].stdout  # one printed report


@pytest.mark.slow
@pytest.mark.parametrize("where", ["one device", "two processes"])
def test_a_snapshot_written_on_4_devices_resumes_elsewhere_and_equals_the_uninterrupted_run(
        imagenet_runs, where, tmp_path):
    root, _ = imagenet_runs
    args = (*IMAGENET, "--resume", str(root / "four" / "snapshot_iter_2"), "--out", str(tmp_path / "out"))
    if where == "one device":
        result = run_module(*args, "--devices", "1", devices=4)
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        run_processes(*args, flag_style="_")
    with np.load(tmp_path / "out" / "model_iter_3") as resumed, np.load(root / "four" / "model_iter_3") as whole:
        changes = {key: whole[key].astype(np.float64) - np.load(root / "four" / "model_iter_2")[key]
                   for key in whole.files}
        errors = {key: float(np.linalg.norm(resumed[key] - whole[key].astype(np.float64))
                             / np.linalg.norm(changes[key])) for key in whole.files}
    assert max(errors.values()) < 1e-3, errors  # relative to the step's own change of each layer
