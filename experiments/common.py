"""Command-line pieces shared by the course experiments: data flags, progress, output folder."""

import argparse
import pathlib
import sys
import time

import jax.numpy as jnp

from jaxdl import data
from jaxdl.train.run import Data


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    parser.add_argument("--data-dir", default=None,
                        help=f"folder with the four IDX files (default: ${data.DATA_DIR_ENV}, else TFDS)")


def add_run_flags(parser: argparse.ArgumentParser, steps: int, eval_every: int, seeds: int = 1) -> None:
    parser.add_argument("--steps", type=int, default=steps, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=eval_every, help="steps between evaluations")
    parser.add_argument("--seeds", type=int, default=seeds, help="seeds per config, run in one program")
    parser.add_argument("--seed", type=int, default=0, help="first seed; seeds are seed, seed+1, ...")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output folder")


def load_data(args: argparse.Namespace, train_limit: int | None = None, test_limit: int | None = None) -> Data:
    """The dataset as device arrays; optionally only the first train/test examples (the course's slices)."""
    train, test = data.load(args.dataset, args.data_dir)
    return Data(jnp.asarray(train.images[:train_limit]), jnp.asarray(train.labels[:train_limit]),
                jnp.asarray(test.images[:test_limit]), jnp.asarray(test.labels[:test_limit]))


def cli(main) -> None:
    """Run an experiment's main; expected failures (bad flags, missing or corrupt data, NaN losses)
    end the process with 'error: <message>' and status 2 instead of a traceback."""
    try:
        main()
    except (ValueError, FileNotFoundError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


class Progress:
    """Prints 'name: step s/total (elapsed)' to stderr after each evaluation of a compiled run."""

    def __init__(self, name: str, total_steps: int):
        self.name, self.total, self.start = name, total_steps, time.perf_counter()

    def __call__(self, step) -> None:
        step = int(step)
        end = "\n" if step >= self.total else "\r"
        print(f"{self.name}: step {step}/{self.total} ({time.perf_counter() - self.start:.1f} s)",
              end=end, file=sys.stderr, flush=True)
