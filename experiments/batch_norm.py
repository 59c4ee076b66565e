"""Course 2_3: batch normalization in MultiLayerNet across the course, Chainer and Flax conventions.

    python -m experiments.batch_norm --data-dir ../shared/data/mnist --seeds 5 --out runs/batch_norm

MultiLayerNet [40, 20], sigmoid, Xavier, SGD 0.01, 1000 steps; batch norm off, and on in three
conventions with gamma/beta frozen (the course's loop) and learned (jaxdl.course.batch_norm).
Configs (--configs): off, course-frozen, course-learned, chainer-frozen, chainer-learned,
flax-frozen, flax-learned.
Writes figure.png, test_accuracy.png, table.md and results.json into --out.
"""

from jaxdl import cli


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "batch_norm")
    cli.add_run_flags(parser, steps=1000, eval_every=10)
    cli.add_data_flags(parser)
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate")
    parser.add_argument("--hidden", type=int, nargs="+", default=[40, 20], help="hidden layer sizes")
    parser.add_argument("--configs", nargs="+", metavar="NAME", help="configs to run (default: all; names above)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    configs = len(args.configs) if args.configs else "all"
    return cli.train_and_report("batch_norm", args, f"{configs} configs x {args.seeds} seeds, {args.steps} steps")


if __name__ == "__main__":
    cli.run(main)
