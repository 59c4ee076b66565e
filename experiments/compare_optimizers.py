"""Comparing optimizers properly: any optax optimizer and schedule, tuned on a validation split, every
trial x seed of a workload in one compiled program, with confidence intervals, time to target and
performance profiles (jaxdl.compare).

    python -m experiments.compare_optimizers --workloads mnist_mlp fashion_mnist_mlp \
        --optimizers course:adam optax:adamw optax:lion chainer:momentum --trials 8 --seeds 3 \
        --data-root ../shared/data --out runs/compare

Optimizers: FAMILY:NAME of jaxdl.optim (course, chainer, notebook, optax), optax:NAME for any optax
alias (adamw, lion, lamb, nadam, adafactor, sgd, ...), or package.module:function, each with
keyword hyperparameters inline, e.g. 'optax:sgd(momentum=0.9, nesterov=True)' (fixed, not tuned).
Workloads: mnist_mlp, fashion_mnist_mlp, mnist_simple_cnn, mnist_deep_cnn, mnist_overfitting; the
last 10,000 training images are the validation split, the test set is only for the final report.
Each optimizer tunes a default search space (log-uniform learning rate, momentum, weight decay
where the optimizer has them; --space overrides), K quasi-random trials x S seeds.
Writes leaderboard.md, results.json, curves_<workload>.png, sensitivity_<workload>.png, profile.png.
"""

import shlex
import sys

from jaxdl import cli

WORKLOADS = ("mnist_mlp", "fashion_mnist_mlp", "mnist_simple_cnn", "mnist_deep_cnn", "mnist_overfitting")
SCHEDULE_HELP = ("learning-rate schedule, a multiplier of each trial's peak rate: constant, cosine(alpha=0), "
                 "warmup_cosine(warmup=0.05, alpha=0), exponential(final=0.01), "
                 "step(boundaries=(0.5, 0.75), factor=0.1); fractions are of the step budget")


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "compare_optimizers")
    parser.add_argument("--workloads", nargs="+", default=["mnist_mlp", "fashion_mnist_mlp"], metavar="NAME",
                        help=f"workloads to compare on: {', '.join(WORKLOADS)}")
    parser.add_argument("--optimizers", nargs="+", metavar="SPEC",
                        default=["course:adam", "optax:adamw", "optax:lion", "chainer:momentum"],
                        help="optimizers: FAMILY:NAME, optax:ALIAS or package.module:function, optionally with "
                             "fixed keyword hyperparameters, e.g. 'optax:sgd(momentum=0.9, nesterov=True)'")
    parser.add_argument("--trials", type=int, default=8, help="hyperparameter settings per optimizer (K)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setting (S); each seed is a study")
    parser.add_argument("--seed", type=int, default=0, help="first seed; the seeds are seed, seed+1, ...")
    parser.add_argument("--search", choices=["quasirandom", "grid"], default="quasirandom",
                        help="how the K settings cover the search space (Halton points, or a grid of K = n^D)")
    parser.add_argument("--space", action="append", default=[], metavar="SPEC:KEY=DIST",
                        help="override one dimension of a spec's search space, DIST one of loguniform(low, high), "
                             "uniform(low, high), one_minus_loguniform(low, high) (repeatable)")
    parser.add_argument("--schedule", default="constant", help=SCHEDULE_HELP)
    parser.add_argument("--steps", type=int, help="step budget of every workload (default: each workload's own)")
    parser.add_argument("--eval-every", type=int, help="steps between validation evaluations (default: the "
                                                       "workload's own)")
    parser.add_argument("--target", action="append", default=[], metavar="[WORKLOAD=]ACCURACY",
                        help="validation-accuracy target for steps to target (default: each workload's own)")
    parser.add_argument("--member-axis", choices=["vmap", "map"],
                        help="how a sweep runs its trials x seeds in the program: vmap batches them, map runs them "
                             "one after another (default: vmap for the MLPs, map for the conv nets on CPU)")
    parser.add_argument("--data-root", default=None,
                        help="folder with one subfolder of IDX files per dataset, e.g. ../shared/data "
                             "(default: $JAXDL_DATA_ROOT, else TFDS)")
    parser.add_argument("--devices", type=int,
                        help="devices of each process a sweep's trials x seeds are split over (default: all; "
                             "README 'Scaling out')")
    cli.add_process_flags(parser, style="-")
    parser.add_argument("--out", type=cli.output_folder, required=True, help="output folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from jaxdl.atomic import check_output_folder

    check_output_folder(args.out, "compare_optimizers")
    command = "python -m experiments.compare_optimizers " + shlex.join(sys.argv[1:] if argv is None else argv)
    cli.announce("compare_optimizers", args, f"{len(args.optimizers)} optimizers x {args.trials} trials x "
                                             f"{args.seeds} seeds on {', '.join(args.workloads)}")
    from jaxdl.compare.experiment import Config, train_and_evaluate

    config = cli.config_from(args, Config)
    config = Config(**{**config.__dict__, "command": command})
    result = train_and_evaluate(config, args.out)
    cli.report_outputs(args.out)
    return result


if __name__ == "__main__":
    cli.run(main)
