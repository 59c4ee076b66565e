"""Bad CLI inputs end in one clear 'error:' line (exit 2) before any work; outputs are committed as a
whole (a kill leaves the old set or the new one); a diverging run is recorded, not fatal."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import batch_norm, convnets, optimizers, overfitting, train_imagenet, vanishing_gradient
from jaxdl import cli
from jaxdl.atomic import RETIRED_MARK, STAGING_MARK, atomic_folder, remove_leftovers

REPO = pathlib.Path(__file__).resolve().parent.parent


def a_file(tmp_path: pathlib.Path) -> str:
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return str(path)


def foreign_folder(tmp_path: pathlib.Path) -> str:
    path = tmp_path / "mine"
    path.mkdir(exist_ok=True)
    (path / "thesis.tex").write_text("keep me")
    return str(path)


# (CLI main, flags, substring of the error line); "{file}" and "{foreign}" are filled per test.
BAD_CLI_INPUTS = [
    (vanishing_gradient.main, ["--lr", "-0.01"], "lr (--lr) must be a finite number > 0, got -0.01"),
    (vanishing_gradient.main, ["--lr", "nan"], "lr (--lr) must be a finite number > 0, got nan"),
    (vanishing_gradient.main, ["--seeds", "0"], "seeds (--seeds) must be a positive integer, got 0"),
    (vanishing_gradient.main, ["--seed", "-1"], "seed (--seed) must be a non-negative integer, got -1"),
    (vanishing_gradient.main, ["--steps", "150"], "steps (150) must be a multiple of eval_every (100)"),
    (vanishing_gradient.main, ["--hidden", "40", "0"], "hidden (--hidden) must be positive layer sizes, got [40, 0]"),
    (vanishing_gradient.main, ["--update", "gamma"], "argument --update: invalid choice: 'gamma'"),
    (vanishing_gradient.main, ["--steps", "1000000000", "--eval-every", "1000000000"],
     "GiB available; lower --steps, --seeds or --batch-size"),
    (vanishing_gradient.main, ["--out", ""], "argument --out: empty; give the folder"),
    (vanishing_gradient.main, ["--out", "{file}"], "a_file is a file, not a folder"),
    (vanishing_gradient.main, ["--out", "{foreign}"], "holds files that are not outputs of vanishing_gradient"),
    (vanishing_gradient.main, ["--out", "{hidden}"], "holds files that are not outputs of vanishing_gradient"),
    (vanishing_gradient.main, ["--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
    (vanishing_gradient.main, ["--data-dir", "/nonexistent"], "data folder /nonexistent does not exist"),
    (batch_norm.main, ["--lr", "0"], "lr (--lr) must be a finite number > 0, got 0.0"),
    (batch_norm.main, ["--batch-size", "0"], "batch_size (--batch-size) must be a positive integer, got 0"),
    (batch_norm.main, ["--configs", "on"], "configs (--configs) must name some of off, course-frozen,"),
    (overfitting.main, ["--train-size", "70000"], "--train-size 70000 is more than the 60000 images mnist has"),
    (overfitting.main, ["--train-size", "0"], "train_size (--train-size) must be positive, got 0"),
    (overfitting.main, ["--settings", "l3"], "settings (--settings) must name some of none, l2,"),
    (overfitting.main, ["--dropout-form", "scaled"], "argument --dropout-form: invalid choice: 'scaled'"),
    (convnets.main, ["--test-size", "20000"], "--test-size 20000 is more than the 10000 images mnist has"),
    (convnets.main, ["--eval-every", "0"], "eval_every (--eval-every) must be a positive integer, got 0"),
    (convnets.main, ["--nets", "lenet"], "nets (--nets) must name some of simple, double, deep, got ['lenet']"),
    (convnets.main, ["--lr", "inf"], "lr (--lr) must be a finite number > 0, got inf"),
    (optimizers.main, ["--target", "7"], "target (--target) is a test accuracy in (0, 1], got 7.0"),
    (optimizers.main, ["--lr-sweep", "--sweep-lrs", "0.1", "nan"], "--sweep-lrs must be positive"),
    (optimizers.main, ["--lr-sweep", "--sweep-eval-every", "0"], "--sweep-eval-every (0) must be positive"),
    (optimizers.main, ["--optimizers", "notebook:nesterov"], "notebook:nesterov does not exist"),
    (optimizers.main, ["--hidden", "-5"], "hidden (--hidden) must be positive layer sizes, got [-5]"),
]


@pytest.mark.parametrize("main,flags,message", BAD_CLI_INPUTS,
                         ids=[f"{m.__module__.split('.')[-1]} {' '.join(f)}"[:60] for m, f, _ in BAD_CLI_INPUTS])
def test_bad_cli_input_is_one_error_line_before_any_work(main, flags, message, tmp_path, mnist_dir, capsys):
    hidden = tmp_path / "repo"
    (hidden / ".git").mkdir(parents=True, exist_ok=True)  # only hidden content: still not ours to replace
    fill = {"file": a_file(tmp_path), "foreign": foreign_folder(tmp_path), "hidden": str(hidden)}
    flags = [f.format(**fill) for f in flags]
    out = ["--out", str(tmp_path / "out")] if "--out" not in flags else []
    data = [] if "--data-dir" in flags else ["--data-dir", str(mnist_dir)]
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: main([*out, *data, *flags]))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line][-1].startswith(("error: ", "python -m"))
    assert not (tmp_path / "out").exists()  # nothing written
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


def test_a_failed_run_leaves_the_earlier_outputs(tmp_path, mnist_dir):
    out = tmp_path / "vg"
    argv = ["--out", str(out), "--data-dir", str(mnist_dir), "--steps", "10", "--eval-every", "10",
            "--hidden", "4"]
    vanishing_gradient.main(argv)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"figure.png", "results.json", "table.md"}
    with pytest.raises(ValueError, match="steps"):
        vanishing_gradient.main([*argv, "--steps", "15"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def writer_script(folder: pathlib.Path, names: list[str]) -> str:
    """A child that writes `names` into atomic_folder(folder), announcing each file and waiting for a
    line on stdin before the next."""
    return (f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from jaxdl.atomic import atomic_folder\n"
            f"with atomic_folder({str(folder)!r}) as staging:\n"
            f"    for name in {names!r}:\n"
            "        (staging / name).write_text('new ' + name)\n"
            "        print(name, flush=True)\n"
            "        sys.stdin.readline()\n")


@pytest.mark.parametrize("killed_after", [1, 2, 3])
def test_sigkill_while_writing_leaves_the_old_set_and_leftovers_go(tmp_path, killed_after):
    folder = tmp_path / "results"
    names = ["figure.png", "table.md", "results.json"]
    with atomic_folder(folder) as staging:
        for name in names:
            (staging / name).write_text("old " + name)
    child = subprocess.Popen([sys.executable, "-c", writer_script(folder, names)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        for written in range(1, killed_after + 1):
            assert child.stdout.readline().strip() == names[written - 1]
            if written < killed_after:
                child.stdin.write("\n")
                child.stdin.flush()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert {p.name: p.read_text() for p in folder.iterdir()} == {n: "old " + n for n in names}
    staging = folder.parent / f".results{STAGING_MARK}{child.pid}"
    assert staging.is_dir()  # the killed run's partial set, beside the folder, never in it
    assert remove_leftovers(folder) == [str(staging)]
    assert sorted(os.listdir(tmp_path)) == ["results"]


def test_leftovers_of_an_interrupted_two_rename_swap_are_completed(tmp_path):
    """Where renameat2 cannot exchange, the swap is two renames; a kill between them leaves only the
    retired old set, which remove_leftovers puts back; live processes' folders are left alone."""
    folder = tmp_path / "results"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    retired = tmp_path / f".results{RETIRED_MARK}{dead}"
    retired.mkdir()
    (retired / "table.md").write_text("old")
    live = tmp_path / f".results{STAGING_MARK}{os.getpid()}"
    live.mkdir()
    remove_leftovers(folder)
    assert (folder / "table.md").read_text() == "old" and live.is_dir() and not retired.exists()
    (folder / ".table.md.abc.tmp").write_text("half")  # an interrupted atomic_write inside the folder
    assert remove_leftovers(folder) == [str(folder / ".table.md.abc.tmp")]


def test_sigkill_of_a_real_run_while_it_writes_keeps_the_earlier_outputs(tmp_path, mnist_dir):
    out = tmp_path / "vg"
    argv = [sys.executable, "-m", "experiments.vanishing_gradient", "--out", str(out), "--data-dir", str(mnist_dir),
            "--steps", "10", "--eval-every", "10", "--hidden", "4"]
    subprocess.run(argv, cwd=REPO, check=True, capture_output=True, timeout=300)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    child = subprocess.Popen([*argv, "--seed", "7"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / f".vg{STAGING_MARK}{child.pid}"
    deadline = time.monotonic() + 300
    while not staging.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    current = {p.name: p.read_bytes() for p in out.iterdir()}
    if current != before:  # the kill came after the swap: then the whole new set is there
        assert set(current) == set(before) and json.loads(current["results.json"])["settings"]["seed"] == 7
    subprocess.run(argv, cwd=REPO, check=True, capture_output=True, timeout=300)
    assert sorted(os.listdir(tmp_path)) == ["vg"]  # the next run removed the killed one's staging folder


def test_a_diverging_optimizer_is_recorded_and_the_others_are_unchanged(tmp_path, mnist_dir, capsys):
    common = ["--data-dir", str(mnist_dir), "--steps", "20", "--eval-every", "10", "--seeds", "2",
              "--hidden", "8", "6"]
    alone = optimizers.main(["--out", str(tmp_path / "alone"), *common, "--optimizers", "notebook:sgd"])
    both = optimizers.main(["--out", str(tmp_path / "both"), *common, "--optimizers", "notebook:sgd",
                            "notebook:momentum", "--hparam", "notebook:momentum:learning_rate=1e38"])
    assert "warning: notebook:momentum diverged" in capsys.readouterr().err
    sgd_alone, (sgd, momentum) = alone["runs"][0], both["runs"]
    for key in ("step_loss", "test_accuracy", "batch_accuracy", "test_loss"):
        np.testing.assert_array_equal(sgd[key], sgd_alone[key])
    assert sgd["diverged_at_step"] == [None, None]
    assert all(step is not None and 1 <= step <= 20 for step in momentum["diverged_at_step"])
    saved = json.loads((tmp_path / "both" / "results.json").read_text())  # strict JSON: NaN became null
    assert saved["runs"][1]["final_test_accuracy_median"] is None
    assert saved["runs"][1]["diverged_at_step"] == momentum["diverged_at_step"]
    first = min(momentum["diverged_at_step"])
    assert f"| notebook:momentum | diverged at step {first} |" in (tmp_path / "both" / "table.md").read_text()


def test_train_imagenet_flags_are_checked_before_any_work(tmp_path, capsys):
    for flags, message in [(["-B", "0"], "--batchsize must be a positive integer, got 0"),
                           (["-b", "0"], "--val_batchsize must be a positive integer, got 0"),
                           (["--epoch", "0"], "--epoch must be a positive integer, got 0"),
                           (["--iteration", "0"], "--iteration must be a positive integer, got 0"),
                           (["--val_interval", "0"], "--val_interval must be a positive integer, got 0"),
                           (["--log_interval", "-3"], "--log_interval must be a positive integer, got -3"),
                           (["--loaderjob", "0"], "--loaderjob must be a positive integer, got 0"),
                           (["--out", a_file(tmp_path)], "is a file, not a folder")]:
        with pytest.raises(SystemExit) as exit_:
            cli.run(lambda flags=flags: train_imagenet.main(["--synthetic", "--out", str(tmp_path / "r"), *flags]))
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (flags, err)


def test_trainer_stops_at_the_first_nan_loss_and_keeps_the_last_good_snapshot(tmp_path):
    trainer = tiny_trainer(tmp_path, nan_at=3, stop_iteration=8, val_interval=1, log_interval=1, snapshot_interval=2)
    with pytest.raises(FloatingPointError, match=r"main/loss is nan at iteration 3: training stopped; the last good "
                                                 r"snapshot is .*snapshot_iter_2 \(continue with --resume"):
        trainer.run()
    assert sorted(p.name for p in tmp_path.glob("snapshot_iter_*")) == ["snapshot_iter_2"]
    log = json.loads((tmp_path / "log").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the log"))
    assert [entry["iteration"] for entry in log] == [1, 2, 3] and log[-1]["main/loss"] is None


def tiny_trainer(out: pathlib.Path, interrupt_at: int | None = None, nan_at: int | None = None, seed: int = 0,
                 **triggers):
    """A Trainer of a small MLP on 16 random examples; SIGINT arrives while loading batch `interrupt_at`,
    and the batch of iteration `nan_at` holds a NaN."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxdl.data.epoch_iterator import EpochIterator
    from jaxdl.models.mlp import MultiLayerNet
    from jaxdl.train.state import Batch, Task
    from jaxdl.train.step import jit_eval_step, jit_train_step
    from jaxdl.train.trainer import Trainer, Triggers

    task = Task(MultiLayerNet(6, (4,), 3), optax.sgd(0.1), loss="chainer")
    state = task.init(jax.random.key(0), jnp.zeros((1, 6)))
    images, labels = np.random.RandomState(0).rand(16, 6).astype(np.float32), np.arange(16, dtype=np.int32) % 3

    def load_batch(indices, iteration):
        if iteration == interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        batch = images[indices].copy()
        batch[0, 0] = np.nan if iteration == nan_at else batch[0, 0]
        return Batch(batch, labels[indices])

    return Trainer(jit_train_step(task), jit_eval_step(task), state, EpochIterator(16, 4, seed), load_batch,
                   lambda: [Batch(images, labels)], str(out), Triggers(**triggers), learning_rate=0.1,
                   print_report=lambda entry: None, settings={"seed": seed})


def test_ctrl_c_finishes_the_step_snapshots_it_and_the_run_resumes_bit_exactly(tmp_path):
    from jaxdl.train.trainer import TrainingInterrupted

    triggers = {"stop_iteration": 8, "val_interval": 100, "log_interval": 2, "snapshot_interval": 100}
    straight = tiny_trainer(tmp_path / "straight", **triggers).run()
    trainer = tiny_trainer(tmp_path / "cut", interrupt_at=3, **triggers)
    with pytest.raises(TrainingInterrupted, match=r"interrupted after iteration 3; snapshot .*snapshot_iter_3 holds"):
        trainer.run()
    resumed = tiny_trainer(tmp_path / "cut", **triggers)
    resumed.resume(str(tmp_path / "cut" / "snapshot_iter_3"))
    final = resumed.run()
    for a, b in zip(jax_leaves(final.params), jax_leaves(straight.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_refuses_a_snapshot_of_other_settings(tmp_path):
    from jaxdl.train.checkpoint import CheckpointError

    triggers = {"stop_iteration": 2, "val_interval": 100, "log_interval": 100, "snapshot_interval": 2}
    tiny_trainer(tmp_path, **triggers).run()
    other = tiny_trainer(tmp_path / "other", seed=5, **triggers)
    before = jax_leaves(other.state.params)
    with pytest.raises(CheckpointError, match=r"other settings \(seed: 0 in the snapshot, 5 now\)"):
        other.resume(str(tmp_path / "snapshot_iter_2"))
    for a, b in zip(jax_leaves(other.state.params), before, strict=True):  # a refused resume changes nothing
        np.testing.assert_array_equal(a, b)


def jax_leaves(tree):
    import jax

    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def test_a_folder_where_a_file_belongs_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: train_imagenet.main([str(tmp_path), str(tmp_path), "--out", str(tmp_path / "r")]))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize("label", ["5000", "-3"])
def test_image_list_labels_outside_the_models_classes_are_refused(tmp_path, capsys, label):
    (tmp_path / "train.txt").write_text(f"a.png 1\nb.png {label}\n")
    (tmp_path / "val.txt").write_text("c.png 2\n")
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: train_imagenet.main([str(tmp_path / "train.txt"), str(tmp_path / "val.txt"),
                                             "--out", str(tmp_path / "r"), "--mean", str(tmp_path / "none.npy")]))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    message = ("label 5000 is not a class of the model, which has 1000" if label == "5000"
               else "expected 'path label' with a non-negative integer label")
    assert "train.txt, line 2: " in err and message in err and "Traceback" not in err


def test_keep_snapshots_retires_the_oldest_with_their_models(tmp_path):
    trainer = tiny_trainer(tmp_path, stop_iteration=5, val_interval=100, log_interval=100, snapshot_interval=1)
    trainer.save_model = lambda params, path: pathlib.Path(path).write_text("model")
    trainer.keep_snapshots = 2
    (tmp_path / "snapshot_iter_99").write_text("a later snapshot of an earlier run")
    trainer.run()
    assert sorted(p.name for p in tmp_path.glob("*_iter_*")) == ["model_iter_4", "model_iter_5", "snapshot_iter_4",
                                                                  "snapshot_iter_5", "snapshot_iter_99"]


def test_initmodel_with_non_finite_weights_is_refused():
    from jaxdl.chainer.train_imagenet import refuse_non_finite

    refuse_non_finite({"conv1": {"kernel": np.ones((2, 2))}}, "--initmodel ok.npz")
    with pytest.raises(ValueError, match=r"--initmodel bad.npz: \['fc8'\]\['bias'\] holds non-finite values"):
        refuse_non_finite({"conv1": {"kernel": np.ones(2)}, "fc8": {"bias": np.array([0.0, np.inf])}},
                          "--initmodel bad.npz")
