"""Study text Section 2 (course 2_4): SGD, Momentum, AdaGrad, RMSprop and Adam on the course network.

    python -m experiments.optimizers --data-dir ../shared/data/mnist --seeds 5 --out runs/optimizers
    python -m experiments.optimizers --data-dir ../shared/data/mnist --seeds 5 --lr-sweep --out runs/optimizers_sweep

MultiLayerNet [40, 20], sigmoid, init 0.01, batch 100, 1000 steps, evaluation every 10 steps;
by default the notebook's loops with the 2_4 learning rates (jaxdl.course.optimizers). Every
optimizer x seed trains in one compiled program. --optimizers takes any "family:name" of
jaxdl.optim (families course, chainer, notebook, optax; e.g. chainer:adam optax:adam
course:adam); --hparam notebook:momentum:learning_rate=0.5 overrides one value; --lr-sweep
trains a log grid of learning rates per optimizer in one more program.
Writes accuracy.png, loss.png, table.md, results.json (and lr_sweep.png) into --out.
"""

from jaxdl import cli


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "optimizers")
    cli.add_run_flags(parser, steps=1000, eval_every=10)
    cli.add_data_flags(parser)
    parser.add_argument("--optimizers", nargs="+", metavar="FAMILY:NAME",
                        help="optimizers to compare (default: the notebook's five, notebook:sgd, notebook:momentum, "
                             "notebook:adagrad, notebook:rmsprop, notebook:adam; jaxdl.optim.available() lists all)")
    parser.add_argument("--hparam", action="append", default=[], metavar="FAMILY:NAME:KEY=VALUE",
                        help="override one hyperparameter of one listed optimizer (repeatable)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[40, 20], help="hidden layer sizes")
    parser.add_argument("--batchnorm", action="store_true", help="course batch norm after each hidden Affine")
    parser.add_argument("--update", choices=["affine", "all"], default="affine",
                        help="affine: W and b only, as the notebook's loops; all: batch-norm gamma/beta too")
    parser.add_argument("--target", type=float, default=0.9, help="test accuracy for the steps-to-target column")
    parser.add_argument("--lr-sweep", action="store_true", help="also sweep the learning rate of each optimizer")
    parser.add_argument("--sweep-lrs", type=float, nargs="+",
                        help="learning rates of the sweep (default: 1e-4 to 10 in half decades)")
    parser.add_argument("--sweep-eval-every", type=int, default=100,
                        help="steps between the sweep's evaluations (it reports the final accuracy)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    sweep = ", with a learning-rate sweep" if args.lr_sweep else ""
    optimizers = len(args.optimizers) if args.optimizers else 5
    what = f"{optimizers} optimizers x {args.seeds} seeds, {args.steps} steps{sweep}"
    return cli.train_and_report("optimizers", args, what)


if __name__ == "__main__":
    cli.run(main)
