"""experiments.train_imagenet and its library pieces (image lists, preprocessing, epoch
iterator, trainer), on a tiny image list of MNIST digits made in the test."""

import gzip
import json
import math

import jax
import numpy as np
import pytest
from PIL import Image

import jaxdl.chainer
from experiments import compute_mean as compute_mean_cli
from experiments import train_imagenet
from jaxdl.chainer.train_imagenet import triggers_from
from jaxdl.data.epoch_iterator import EpochIterator, sequential_batches
from jaxdl.data.imagelist import (
    ImageListError,
    center_crop,
    chainer_random_crop,
    crop_and_normalize,
    parse_image_list,
)
from jaxdl.data.tfds_images import TfdsUnavailable, export_image_lists
from jaxdl.train.log_report import LogReport
from jaxdl.train.trainer import Trainer
from tests.conftest import PNG

N_TRAIN, N_VAL = 8, 4


def read_idx(path, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


@pytest.fixture(scope="module")
def tiny_lists(mnist_dir, tmp_path_factory):
    """train.txt / val.txt of MNIST digits as 256x256 RGB PNGs, and their mean.npy."""
    root = tmp_path_factory.mktemp("tiny")
    images = read_idx(mnist_dir / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz", 8)
    (root / "img").mkdir()
    lines = []
    for i in range(N_TRAIN + N_VAL):
        Image.fromarray(images[i]).resize((256, 256), Image.BILINEAR).convert("RGB").save(root / f"img/{i}.png")
        lines.append(f"img/{i}.png {labels[i]}\n")
    (root / "train.txt").write_text("".join(lines[:N_TRAIN]))
    (root / "val.txt").write_text("".join(lines[N_TRAIN:]))
    compute_mean_cli.main([str(root / "train.txt"), "--root", str(root), "-o", str(root / "mean.npy")])
    return root


# ------------------------------------------------------------------------------ image lists
def test_parse_image_list(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a/b.png 3\n  c.jpg\t7  \n")
    assert parse_image_list(path) == [("a/b.png", 3), ("c.jpg", 7)]


@pytest.mark.parametrize("text,line", [("a.png 1\nb.png\n", 2), ("a.png one\n", 1), ("a b 1\n", 1), ("a.png 1\n\n", 2)])
def test_malformed_list_line_is_named(tmp_path, text, line):
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(ImageListError, match=f"line {line}: expected 'path label'"):
        parse_image_list(path)


def test_mean_is_the_float_mean_of_the_images(tiny_lists):
    mean = np.load(tiny_lists / "mean.npy")
    stack = np.stack([np.asarray(Image.open(tiny_lists / f"img/{i}.png"), np.float64) for i in range(N_TRAIN)])
    assert mean.shape == (3, 256, 256) and mean.dtype == np.float32  # Chainer's (C, H, W)
    np.testing.assert_allclose(mean, stack.mean(axis=0).transpose(2, 0, 1), rtol=1e-6, atol=1e-4)


def test_random_crop_offsets_and_flips_follow_chainer():
    rng = np.random.default_rng(0)
    draws = np.array([chainer_random_crop(rng, 256, 256, 227) for _ in range(4000)])
    # random.randint(0, 256 - 227 - 1) is inclusive: offsets 0..28, never 29
    assert set(draws[:, 0]) == set(draws[:, 1]) == set(range(29))
    assert set(draws[:, 2]) == {0, 1}
    assert center_crop(256, 256, 227) == (14, 14)


def test_crop_and_normalize_matches_chainer_chw_code():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (256, 256, 3)).astype(np.float32)
    mean = rng.uniform(0, 255, (256, 256, 3)).astype(np.float32)
    top, left = 5, 21
    got = crop_and_normalize(image, mean, top, left, 227, flip=True)
    # Chainer's PreprocessedDataset on (C, H, W): flip the whole image, crop, subtract, scale
    chw, mean_chw = image.transpose(2, 0, 1)[:, :, ::-1], mean.transpose(2, 0, 1)
    expected = chw[:, top:top + 227, left:left + 227] - mean_chw[:, top:top + 227, left:left + 227]
    expected *= 1.0 / 255.0
    np.testing.assert_array_equal(got, expected.transpose(1, 2, 0))


# ---------------------------------------------------------------------------- epoch iterator
def test_epochs_are_permutations_and_batches_straddle_them():
    iterator = EpochIterator(size=10, batch_size=4, seed=3)
    batches = [next(iterator) for _ in range(5)]  # 20 indices = 2 epochs
    stream = np.concatenate(batches)
    assert sorted(stream[:10]) == sorted(stream[10:]) == list(range(10))
    np.testing.assert_array_equal(stream, np.concatenate([iterator.order(0), iterator.order(1)]))
    assert [len(b) for b in batches] == [4] * 5
    assert iterator.epoch == 2 and iterator.position == 0 and iterator.is_new_epoch
    assert not np.array_equal(iterator.order(0), iterator.order(1))


def test_iterator_resumes_from_its_state():
    whole = EpochIterator(size=7, batch_size=3, seed=5)
    expected = [next(whole) for _ in range(6)]
    first = EpochIterator(size=7, batch_size=3, seed=5)
    head = [next(first) for _ in range(4)]
    resumed = EpochIterator(size=7, batch_size=3, seed=5)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    tail = [next(resumed) for _ in range(2)]
    for got, want in zip(head + tail, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert resumed.epoch_detail == pytest.approx(6 * 3 / 7)


def test_sequential_batches_cover_the_set_once():
    assert [list(b) for b in sequential_batches(5, 2)] == [[0, 1], [2, 3], [4]]


# ------------------------------------------------------------------------------ log report
def test_log_report_means_each_key_over_its_observations(tmp_path):
    report = LogReport(tmp_path / "log")
    report.observe({"main/loss": np.float32(1.0), "lr": 0.01})
    report.observe({"main/loss": np.float32(2.0), "validation/main/loss": 5.0})
    saved = json.loads(json.dumps(report.state_dict()))
    report.observe({"main/loss": 6.0})
    entry = report.emit(epoch=1, iteration=3, elapsed_time=0.5)
    assert entry == {"main/loss": 3.0, "lr": 0.01, "validation/main/loss": 5.0,
                     "epoch": 1, "iteration": 3, "elapsed_time": 0.5}
    assert json.loads((tmp_path / "log").read_text()) == [entry]
    resumed = LogReport(tmp_path / "log2")
    resumed.load_state_dict(saved)
    resumed.observe({"main/loss": 6.0})
    assert resumed.emit(epoch=1, iteration=3, elapsed_time=0.5) == entry
    assert report.emit(epoch=1, iteration=4, elapsed_time=0.6) == {"epoch": 1, "iteration": 4, "elapsed_time": 0.6}


# ------------------------------------------------------------------------------- training
def run(tiny_lists, out, *extra: str, train_list=None, mean=None) -> Trainer:
    """experiments.train_imagenet -a alex on the tiny lists (batch 2, a log entry every iteration)."""
    argv = [str(train_list or tiny_lists / "train.txt"), str(tiny_lists / "val.txt"), "--root", str(tiny_lists),
            "--mean", str(mean or tiny_lists / "mean.npy"), "--out", str(out), "--batchsize", "2",
            "--val_batchsize", "2", "--log_interval", "1", "--val_interval", "2", "--seed", "7", "-a", "alex", *extra]
    return train_imagenet.main(argv)


@pytest.fixture(scope="module")
def whole_run(tiny_lists, tmp_path_factory):
    """Three uninterrupted AlexNet iterations (two loader threads), validating every iteration
    and snapshotting at iteration 2."""
    out = tmp_path_factory.mktemp("whole")
    trainer = run(tiny_lists, out, "--iteration", "3", "--val_interval", "1", "--snapshot_interval", "2",
                  "--loaderjob", "2")
    return trainer, out


def test_training_reports_chainer_keys_and_the_loss_falls(whole_run):
    _, out = whole_run
    log = json.loads((out / "log").read_text())
    assert [e["iteration"] for e in log] == [1, 2, 3]
    assert set(log[0]) == {"main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy",
                           "lr", "epoch", "iteration", "elapsed_time"}
    val_losses = [e["validation/main/loss"] for e in log]  # dropout off, same 4 images each time
    assert val_losses[2] < val_losses[1] < val_losses[0] < math.log(1000) + 0.5
    assert (out / "loss.png").read_bytes()[:8] == PNG
    assert jaxdl.chainer.load_npz(out / "model_iter_2").arch == "alex"  # a Chainer model file


def test_resume_continues_bit_exactly(whole_run, tiny_lists, tmp_path):
    whole, out = whole_run
    # a fresh process state resumed from the iteration-2 snapshot (one loader thread this time)
    resumed = run(tiny_lists, tmp_path, "--iteration", "3", "--val_interval", "1", "--snapshot_interval", "2",
                  "--resume", str(out / "snapshot_iter_2"))

    def host(state):  # every leaf as NumPy (the dropout key as its raw data)
        return jax.tree.leaves(jax.device_get(state._replace(rng=jax.random.key_data(state.rng))))

    for a, b in zip(host(whole.state), host(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)  # bit-exact: params, momentum, step, key

    def without_time(log):
        return [{k: v for k, v in entry.items() if k != "elapsed_time"} for entry in log]

    assert without_time(json.loads((tmp_path / "log").read_text())) == \
        without_time(json.loads((out / "log").read_text()))


def test_missing_image_is_named(tiny_lists, tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("img/nope.png 2\nimg/0.png 1\n")
    with pytest.raises(ImageListError, match="image file not found: .*img/nope.png"):
        run(tiny_lists, tmp_path / "out", "--iteration", "1", train_list=bad)


def test_mean_of_the_wrong_shape_is_named(tiny_lists, tmp_path):
    np.save(tmp_path / "mean.npy", np.zeros((3, 227, 227), np.float32))
    with pytest.raises(ImageListError, match=r"has shape \(256, 256, 3\).*mean image has \(227, 227, 3\)"):
        run(tiny_lists, tmp_path / "out", "--iteration", "1", mean=tmp_path / "mean.npy")


def test_arguments_need_exactly_one_data_source(capsys):
    with pytest.raises(SystemExit):
        train_imagenet.parse_args([])
    assert "exactly one" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_imagenet.parse_args(["train.txt", "--synthetic"])


def test_test_flag_shrinks_the_intervals_to_one():
    triggers = triggers_from(train_imagenet.parse_args(["--synthetic", "--test"]))
    assert (triggers.val_interval, triggers.log_interval, triggers.snapshot_interval) == (1, 1, 1)
    triggers = triggers_from(train_imagenet.parse_args(["--synthetic"]))
    assert (triggers.val_interval, triggers.log_interval, triggers.snapshot_interval) == (100_000, 1_000, 100_000)


def test_tfds_unknown_dataset_fails_fast(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(TfdsUnavailable, match="no dataset 'no_such_dataset_xyz'"):
        export_image_lists("no_such_dataset_xyz", tmp_path)


def test_tfds_download_failure_says_internet_is_needed(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    class OfflineBuilder:
        def download_and_prepare(self):
            raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(tfds, "builder", lambda *args, **kwargs: OfflineBuilder())
    with pytest.raises(TfdsUnavailable, match="needs internet on first use; offline, pass train and val image lists"):
        export_image_lists("imagenette/320px", tmp_path)
