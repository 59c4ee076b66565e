"""Chainer's examples/imagenet/train_imagenet.py in JAX: learning a convnet from ILSVRC2012-style image lists.

    python -m experiments.compute_mean train.txt --root images -o mean.npy
    python -m experiments.train_imagenet train.txt val.txt --root images --mean mean.npy --out result
    python -m experiments.train_imagenet -a resnet50 --synthetic --iteration 20 --out result

--arch (-a) picks Chainer's example model: alex, googlenet, googlenetbn, nin (the default, as
Chainer's), resnet50, resnext50 or resnet50_nhwc (the same network as resnet50); images are
cropped to its insize (227 for alex and nin, 224 for the others).
Lists hold "path label" lines of 256x256 RGB images (paths relative to --root); Chainer's
preprocessing, MomentumSGD 0.01/0.9, intervals and report keys (jaxdl.chainer.train_imagenet).
Outputs in --out: log (JSON, Chainer's LogReport keys), loss.png, snapshot_iter_N (resume
with --resume) and model_iter_N (a Chainer npz). --tfds NAME trains on a TFDS dataset exported
as image lists (network needed once); --synthetic trains on random tensors (no files).

Several devices and processes (data parallel; README "Scaling out"): --devices N uses the first N
local devices of each process; for several processes start one per host (or several on one
machine), each with --coordinator_address HOST:PORT --num_processes N --process_id I.
--batchsize is the global batch, split evenly over all devices.
"""

import argparse

from jaxdl import cli
from jaxdl.atomic import check_writable_folder
from jaxdl.data.tfds_images import TfdsUnavailable

DTYPE_NAMES = ("float32", "bfloat16")
# jaxdl.chainer.ARCHS, named here so that --help starts without JAX (tests/test_zoo.py compares them)
ARCH_NAMES = ("alex", "googlenet", "googlenetbn", "nin", "resnet50", "resnext50", "resnet50_nhwc")
POSITIVE_FLAGS = ("batchsize", "val_batchsize", "epoch", "iteration", "loaderjob", "val_interval", "log_interval",
                  "snapshot_interval", "synthetic_size", "keep_snapshots", "devices", "num_processes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.train_imagenet", description=__doc__,
                                     formatter_class=cli.HelpFormatter)
    cli.add_compile_cache_flag(parser)
    parser.add_argument("train", nargs="?", help="Path to training image-label list file")
    parser.add_argument("val", nargs="?", help="Path to validation image-label list file")
    parser.add_argument("--arch", "-a", choices=ARCH_NAMES, default="nin", help="Convnet architecture")
    parser.add_argument("--batchsize", "-B", type=int, default=32, help="Learning minibatch size")
    parser.add_argument("--val_batchsize", "-b", type=int, default=250, help="Validation minibatch size")
    parser.add_argument("--epoch", "-E", type=int, default=10, help="Number of epochs to train")
    parser.add_argument("--iteration", type=int, help="Stop after this many iterations instead of --epoch")
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default="float32",
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
    parser.add_argument("--keep_snapshots", type=int,
                        help="Keep only the newest N snapshots and their models (default: all, as Chainer)")
    parser.add_argument("--val_interval", type=int, help="Iterations between validations (default 100000; --test 1)")
    parser.add_argument("--log_interval", type=int, help="Iterations between log entries (default 1000; --test 1)")
    parser.add_argument("--snapshot_interval", type=int,
                        help="Iterations between snapshots (default: the val interval)")
    parser.add_argument("--tfds", metavar="NAME",
                        help="Train on a TFDS dataset (e.g. imagenette/320px) instead of image lists")
    parser.add_argument("--tfds_data_dir", help="TFDS data_dir (default: TFDS's own)")
    parser.add_argument("--synthetic", action="store_true", help="Train on random tensors (benchmarking; no files)")
    parser.add_argument("--synthetic_size", type=int, default=1024, help="Examples in the synthetic train/val sets")
    parser.add_argument("--devices", type=int,
                        help="Use the first N local devices of each process (None: all)")
    cli.add_process_flags(parser, style="_")
    args = parser.parse_args(argv)
    if sum([args.synthetic, args.tfds is not None, args.train is not None]) != 1:
        parser.error("give train and val image lists, or --tfds NAME, or --synthetic (exactly one)")
    if args.train is not None and args.val is None:
        parser.error("the val image list is missing (positional arguments: train val)")
    for name in POSITIVE_FLAGS:
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer, got {value}")
    return args


def main(argv: list[str] | None = None):
    """Parse the flags, train (jaxdl.chainer.train_imagenet.train); returns the Trainer."""
    args = parse_args(argv)
    check_writable_folder(args.out)
    source = "synthetic tensors" if args.synthetic else f"TFDS {args.tfds}" if args.tfds else args.train
    stop = f"{args.iteration} iterations" if args.iteration else f"{args.epoch} epochs"
    cli.announce("train_imagenet", args, f"{args.arch} on {source}, {stop}")
    from jaxdl.chainer.train_imagenet import train

    trainer = train(args)
    cli.report_outputs(args.out)
    return trainer


if __name__ == "__main__":
    cli.run(main, TfdsUnavailable)
