"""Chainer's examples/imagenet/train_imagenet.py in JAX (python -m experiments.train_imagenet).

    python -m experiments.compute_mean train.txt --root images -o mean.npy
    python -m experiments.train_imagenet train.txt val.txt --root images --mean mean.npy --out result

Lists hold "path label" lines of 256x256 RGB images (paths relative to --root). Training
takes random 227x227 crops with random horizontal flips, validation the centre crop; the
mean image is subtracted at the same window and the result scaled by 1/255. MomentumSGD
(lr 0.01, momentum 0.9), batch 32, validation batch 250, 10 epochs; validation and
snapshots every 100,000 iterations, a log entry every 1,000 (--test: every iteration).
Outputs in --out: log (JSON, Chainer's LogReport keys), loss.png, snapshot_iter_N (resume
with --resume) and model_iter_N (a Chainer npz that chainer.serializers.load_npz reads).
Also: --tfds NAME trains on a TFDS dataset exported as image lists (internet needed once);
--synthetic trains on random tensors (no files) to benchmark the loop.
"""

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxdl.chainer
import jaxdl.optim
from jaxdl.atomic import atomic_write
from jaxdl.chainer import ChainerFileError
from jaxdl.data.epoch_iterator import EpochIterator, sequential_batches
from jaxdl.data.imagelist import ImageListDataset, ImageListError, compute_mean, load_mean, parse_image_list
from jaxdl.data.synthetic import synthetic_images
from jaxdl.data.tfds_images import TfdsUnavailable, export_image_lists
from jaxdl.train.checkpoint import CheckpointError
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import jit_eval_step, jit_train_step
from jaxdl.train.trainer import Trainer, Triggers

LEARNING_RATE = 0.01  # chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
MOMENTUM = 0.9
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Learning convnet from ILSVRC2012 dataset (Chainer's example in JAX)")
    parser.add_argument("train", nargs="?", help="Path to training image-label list file")
    parser.add_argument("val", nargs="?", help="Path to validation image-label list file")
    parser.add_argument("--arch", "-a", choices=sorted(jaxdl.chainer.ARCHS), default="alex",
                        help="Convnet architecture")
    parser.add_argument("--batchsize", "-B", type=int, default=32, help="Learning minibatch size")
    parser.add_argument("--val_batchsize", "-b", type=int, default=250, help="Validation minibatch size")
    parser.add_argument("--epoch", "-E", type=int, default=10, help="Number of epochs to train")
    parser.add_argument("--iteration", type=int, help="Stop after this many iterations instead of --epoch")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="Computation dtype (parameters stay float32)")
    parser.add_argument("--initmodel", help="Initialize the model from a Chainer npz model file")
    parser.add_argument("--loaderjob", "-j", type=int, default=1, help="Number of parallel image loading threads")
    parser.add_argument("--mean", "-m", help="Mean file (computed by compute_mean); default mean.npy, "
                        "or for --tfds one computed beside the exported images")
    parser.add_argument("--resume", "-r", default="", help="Resume the training from a snapshot_iter_N file")
    parser.add_argument("--out", "-o", default="result", help="Output directory")
    parser.add_argument("--root", "-R", default=".", help="Root directory path of image files")
    parser.add_argument("--seed", type=int, default=0,
                        help="Seed of the initial weights, batch order, crops and dropout")
    parser.add_argument("--test", action="store_true", help="Validate, log and snapshot every iteration")
    parser.add_argument("--val_interval", type=int, help="Iterations between validations (default 100000; --test 1)")
    parser.add_argument("--log_interval", type=int, help="Iterations between log entries (default 1000; --test 1)")
    parser.add_argument("--snapshot_interval", type=int,
                        help="Iterations between snapshots (default: the val interval)")
    parser.add_argument("--tfds", metavar="NAME",
                        help="Train on a TFDS dataset (e.g. imagenette/320px) instead of image lists")
    parser.add_argument("--tfds_data_dir", help="TFDS data_dir (default: TFDS's own)")
    parser.add_argument("--synthetic", action="store_true", help="Train on random tensors (benchmarking; no files)")
    parser.add_argument("--synthetic_size", type=int, default=1024, help="Examples in the synthetic train/val sets")
    args = parser.parse_args(argv)
    if sum([args.synthetic, args.tfds is not None, args.train is not None]) != 1:
        parser.error("give train and val image lists, or --tfds NAME, or --synthetic (exactly one)")
    if args.train is not None and args.val is None:
        parser.error("the val image list is missing (positional arguments: train val)")
    return args


def triggers_from(args: argparse.Namespace) -> Triggers:
    """Chainer's intervals: val/snapshot 100000 and log 1000 iterations, all 1 with --test."""
    val = args.val_interval or (1 if args.test else 100_000)
    return Triggers(stop_epoch=args.epoch, stop_iteration=args.iteration, val_interval=val,
                    log_interval=args.log_interval or (1 if args.test else 1_000),
                    snapshot_interval=args.snapshot_interval or val)


def augmentation_rngs(seed: int, iteration: int, batch_size: int) -> list[np.random.Generator]:
    """One generator per example of the batch drawn at `iteration`: crops are a function of
    (seed, iteration, slot), so loader threads and resumed runs draw the same ones."""
    return [np.random.default_rng([seed, iteration, slot]) for slot in range(batch_size)]


def image_list_data(train_list: str, val_list: str, root: str, mean_path: str, args: argparse.Namespace,
                    insize: int):
    """(train size, load_batch, val_batches) over Chainer-style image lists."""
    mean = load_mean(mean_path)
    train = ImageListDataset(parse_image_list(train_list), root, mean, insize, args.loaderjob)
    val = ImageListDataset(parse_image_list(val_list), root, mean, insize, args.loaderjob)

    def load_batch(indices: np.ndarray, iteration: int) -> Batch:
        return Batch(*train.batch(indices, augmentation_rngs(args.seed, iteration, len(indices))))

    def val_batches():
        for indices in sequential_batches(len(val), args.val_batchsize):
            yield Batch(*val.batch(indices))

    return len(train), load_batch, val_batches


def synthetic_data(args: argparse.Namespace, insize: int, num_classes: int):
    """(train size, load_batch, val_batches) over random NHWC tensors."""
    images, labels = synthetic_images(args.synthetic_size, insize, insize, 3, num_classes, args.seed)

    def load_batch(indices: np.ndarray, iteration: int) -> Batch:
        return Batch(images[indices], labels[indices])

    def val_batches():
        for indices in sequential_batches(len(images), args.val_batchsize):
            yield Batch(images[indices], labels[indices])

    return len(images), load_batch, val_batches


def tfds_lists(args: argparse.Namespace) -> tuple[str, str, str, str]:
    """Export --tfds as image lists under --out; (train list, val list, root, mean file), the
    mean computed (compute_mean) unless --mean names an existing file."""
    root = os.path.join(args.out, "tfds_" + args.tfds.replace("/", "_"))
    lists = export_image_lists(args.tfds, root, data_dir=args.tfds_data_dir)
    mean_path = args.mean or os.path.join(root, "mean.npy")
    if not os.path.exists(mean_path):
        with atomic_write(mean_path) as f:
            np.save(f, compute_mean(parse_image_list(lists["train"]), root))
    return lists["train"], lists["validation"], root, mean_path


def main(argv: list[str] | None = None) -> Trainer:
    args = parse_args(argv)
    arch = jaxdl.chainer.get_arch(args.arch)
    insize = arch.input_chw[1]
    model = arch.build().clone(dtype=DTYPES[args.dtype])
    print(f"Device: {jax.devices()[0]}\nDtype: {args.dtype}\n"
          f"# Minibatch-size: {args.batchsize}\n# epoch: {args.epoch}\n")

    if args.synthetic:
        size, load_batch, val_batches = synthetic_data(args, insize, model.num_classes)
    else:
        lists = tfds_lists(args) if args.tfds else (args.train, args.val, args.root, args.mean or "mean.npy")
        size, load_batch, val_batches = image_list_data(*lists, args, insize)

    tx = jaxdl.optim.create("chainer:momentum", learning_rate=LEARNING_RATE, momentum=MOMENTUM)
    task = Task(model, tx, loss="chainer")
    state = jax.jit(task.init)(jax.random.key(args.seed), jnp.zeros((1, insize, insize, 3), jnp.float32))
    if args.initmodel:
        print("Load model from", args.initmodel)
        state = task.state_from({"params": jaxdl.chainer.load_npz(args.initmodel, args.arch).params}, state.rng)

    def save_model(params, path: str) -> None:
        jaxdl.chainer.save_npz(path, jaxdl.chainer.ModelState(params=params, arch=arch.name), arch.name)

    trainer = Trainer(
        train_step=jit_train_step(task), eval_step=jit_eval_step(task), state=state,
        train_iter=EpochIterator(size, args.batchsize, args.seed), load_batch=load_batch,
        val_batches=val_batches, out_dir=args.out, triggers=triggers_from(args),
        learning_rate=LEARNING_RATE, save_model=save_model)
    if args.resume:
        trainer.resume(args.resume)
    trainer.run()
    return trainer


if __name__ == "__main__":
    try:
        main()
    except (ImageListError, ChainerFileError, CheckpointError, TfdsUnavailable, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
