"""Course 2_5 and study text Section 3: overfitting on 300 images, and L2, L1 and dropout against it.

    python -m experiments.overfitting --data-dir ../shared/data/mnist --seeds 5 --out runs/overfitting

MultiLayerNet [100] x 6, ReLU, He, trained on the first 300 training images for 1000 steps;
accuracy on all 300 training images and on the 10,000 test images every 10 steps
(jaxdl.course.overfitting). Settings (--settings): none, l2, l2-textbook, l1, l1-textbook,
dropout-l2, study-dropout-sgd, study-dropout-momentum, study-dropout-adagrad,
study-dropout-adam, dropout-l1, study-dropout-l1. Writes figure.png, table.md and
results.json into --out.
"""

from jaxdl import cli


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "overfitting")
    cli.add_run_flags(parser, steps=1000, eval_every=10)
    cli.add_data_flags(parser)
    parser.add_argument("--train-size", type=int, default=300, help="train on the first N training images")
    parser.add_argument("--hidden", type=int, nargs="+", default=[100] * 6, help="hidden layer sizes")
    parser.add_argument("--dropout-form", choices=["course", "inverted"], default="course",
                        help="course: mask without scaling, x * (1 - ratio) at test; inverted: Chainer/Flax")
    parser.add_argument("--settings", nargs="+", metavar="NAME", help="settings to run (default: all; names above)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    settings = len(args.settings) if args.settings else "all"
    return cli.train_and_report("overfitting", args, f"{settings} settings x {args.seeds} seeds, {args.steps} steps")


if __name__ == "__main__":
    cli.run(main)
