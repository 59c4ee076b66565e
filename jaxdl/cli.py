"""Command-line plumbing of the experiments in experiments/: parsers, shared flags, errors, progress.

Importing this module does not import JAX, so a CLI parses its flags and prints its first
line at once; the experiment itself (and JAX) is imported after that.

    parser = cli.parser(__doc__, "vanishing_gradient")   # prog "python -m experiments.vanishing_gradient"
    cli.add_run_flags(parser, steps=2000, eval_every=100)
    cli.run(main)                                        # errors: one 'error:' line, exit status 2
"""

import argparse
import dataclasses
import importlib
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from jaxdl.atomic import check_output_folder
from jaxdl.data import DATA_DIR_ENV  # NumPy only

DATASETS = ("mnist", "fashion_mnist")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default and keeps the description's line breaks (the docstring's command)."""


def parser(doc: str, name: str) -> argparse.ArgumentParser:
    """An ArgumentParser for `python -m experiments.<name>` whose description is the module docstring."""
    return argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=doc,
                                   formatter_class=HelpFormatter)


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mnist", choices=DATASETS, help="dataset to train and test on")
    parser.add_argument("--data-dir", default=None,
                        help=f"folder with the four IDX files (default: ${DATA_DIR_ENV}, else TFDS)")


def output_folder(value: str) -> pathlib.Path:
    """argparse type of an output folder flag: a path, not empty (pathlib would read "" as ".")."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty; give the folder to write the outputs into")
    return pathlib.Path(value)


def add_run_flags(parser: argparse.ArgumentParser, steps: int | None, eval_every: int, seeds: int = 1) -> None:
    parser.add_argument("--steps", type=int, default=steps, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=100, help="examples per training batch")
    parser.add_argument("--eval-every", type=int, default=eval_every, help="steps between evaluations")
    parser.add_argument("--seeds", type=int, default=seeds, help="seeds per config, run in one program")
    parser.add_argument("--seed", type=int, default=0, help="first seed; the seeds are seed, seed+1, ...")
    parser.add_argument("--out", type=output_folder, required=True, default=argparse.SUPPRESS, help="output folder")
    parser.add_argument("--devices", type=int,
                        help="devices of each process that the seeds are split over (None: all; README 'Scaling out')")
    add_process_flags(parser, style="-")


def add_process_flags(parser: argparse.ArgumentParser, style: str) -> None:
    """--coordinator-address, --num-processes, --process-id (`style` "-"; "_" for Chainer's flag style):
    the arguments of jax.distributed.initialize for a run of several processes (jaxdl.parallel)."""
    def name(flag: str) -> str:
        return "--" + flag.replace("_", style)

    parser.add_argument(name("coordinator_address"), metavar="HOST:PORT",
                        help="process 0's address, the same in every process of a multi-process run ('auto': "
                        "detect the cluster: SLURM, Open MPI, Cloud TPU)")
    parser.add_argument(name("num_processes"), type=int, help="how many processes take part (with the address)")
    parser.add_argument(name("process_id"), type=int, help="this process's index, 0 to num_processes - 1")


def config_from(args: argparse.Namespace, config_class: type) -> Any:
    """`config_class` (a dataclass) from the parsed flags of the same names; lists become tuples, and
    flags left at None keep the config's default."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(config_class)
              if getattr(args, field.name, None) is not None}
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def announce(name: str, args: argparse.Namespace, what: str) -> None:
    """The first line of a run, printed before JAX starts: what runs and where its outputs go."""
    print(f"{name}: {what}; outputs in {args.out}", flush=True)


def train_and_report(name: str, args: argparse.Namespace, what: str) -> dict[str, Any]:
    """The course CLIs' main: check --out, announce `what` runs, then (importing JAX only now) run
    jaxdl.course.<name>.train_and_evaluate on the Config built from `args`, and list the outputs."""
    check_output_folder(args.out, name)
    announce(name, args, what)
    experiment = importlib.import_module(f"jaxdl.course.{name}")
    result = experiment.train_and_evaluate(config_from(args, experiment.Config), args.out)
    report_outputs(args.out)
    return result


def report_outputs(out: pathlib.Path) -> None:
    """The last line of a run: the folder and what is in it (folders, such as checkpoints, with a /).
    In a multi-process run only process 0, which writes the outputs, prints it."""
    jax = sys.modules.get("jax")  # loaded by the run; jaxdl.cli itself never imports it
    if jax is not None and jax.process_index() != 0:
        return
    names = sorted(path.name + ("/" if path.is_dir() else "") for path in pathlib.Path(out).iterdir()
                   if not path.name.startswith("."))
    print(f"outputs in {out}/: {', '.join(names)}", flush=True)


EXPECTED_ERRORS = (ValueError, OSError, FloatingPointError)


def run(main: Callable[[], Any], *more_expected: type[Exception]) -> None:
    """Run a CLI's main; expected failures (bad flags or settings, missing or corrupt files, NaN
    losses, a folder where a file belongs, a full disk; ValueError, OSError, FloatingPointError and
    `more_expected`) end the
    process with one 'error: <message>' line and status 2 instead of a traceback."""
    try:
        main()
    except (*EXPECTED_ERRORS, *more_expected) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as e:  # Ctrl-C: say what was kept (a trainer's message names its snapshot)
        print(f"interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        sys.exit(130)
