"""Chainer's examples/imagenet/compute_mean.py: the mean image of an image list.

    python -m experiments.compute_mean train.txt --root images -o mean.npy

Writes the mean of all listed images as a float32 (C, H, W) array, the file
train_imagenet's --mean reads (and Chainer's own example can read too).
"""

import argparse

import numpy as np

from jaxdl import cli
from jaxdl.atomic import atomic_write
from jaxdl.data.imagelist import compute_mean, parse_image_list


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(prog="python -m experiments.compute_mean", description=__doc__,
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("dataset", help="Path to training image-label list file")
    parser.add_argument("--root", "-R", default=".", help="Root directory path of image files")
    parser.add_argument("--output", "-o", default="mean.npy", help="path to output mean array")
    args = parser.parse_args(argv)
    print(f"compute_mean: {args.dataset}; output {args.output}", flush=True)
    mean = compute_mean(parse_image_list(args.dataset), args.root)
    output = args.output if args.output.endswith(".npy") else args.output + ".npy"  # as np.save names it
    with atomic_write(output) as f:
        np.save(f, mean)
    print(f"wrote {output}: shape {mean.shape}")
    return mean


if __name__ == "__main__":
    cli.run(main)
