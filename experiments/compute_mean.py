"""Chainer's examples/imagenet/compute_mean.py (python -m experiments.compute_mean LIST -o mean.npy).

Writes the mean of all listed images as a float32 (C, H, W) array, the file
train_imagenet's --mean reads (and Chainer's own example can read too).
"""

import argparse

import numpy as np

from jaxdl.data.imagelist import compute_mean, parse_image_list


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description="Compute images mean array")
    parser.add_argument("dataset", help="Path to training image-label list file")
    parser.add_argument("--root", "-R", default=".", help="Root directory path of image files")
    parser.add_argument("--output", "-o", default="mean.npy", help="path to output mean array")
    args = parser.parse_args(argv)
    mean = compute_mean(parse_image_list(args.dataset), args.root)
    np.save(args.output, mean)
    print(f"wrote {args.output}: shape {mean.shape}")
    return mean


if __name__ == "__main__":
    main()
