"""Course 2_6, 2_7 and 2_8: SimpleConvNet, DoubleConvNet and DeepConvNet on MNIST with the book's Adam.

    python -m experiments.convnets --data-dir ../shared/data/mnist --seeds 5 --out runs/convnets

Adam 0.001 on batches of 100 from the first 5000 training images, the course's step counts
(simple 1000, double 100, deep 1000), evaluated every 10 steps on those 5000 and on the first
1000 test images (jaxdl.course.convnets). Nets (--nets): simple, double, deep.
Writes figure_<net>.png, table.md and results.json into --out.
"""

from jaxdl import cli


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "convnets")
    cli.add_run_flags(parser, steps=None, eval_every=10)
    cli.add_data_flags(parser)
    parser.add_argument("--nets", nargs="+", metavar="NAME", help="nets to run (default: all three)")
    parser.add_argument("--lr", type=float, default=0.001, help="Adam learning rate")
    parser.add_argument("--full", action="store_true", help="all 60,000/10,000 images instead of 5000/1000")
    parser.add_argument("--train-size", type=int, help="first N training images (overrides --full)")
    parser.add_argument("--test-size", type=int, help="first N test images (overrides --full)")
    parser.add_argument("--train-accuracy", choices=["set", "batch"], default="set",
                        help="set: the whole training set (the notebooks); batch: the current batch")
    parser.add_argument("--dropout-form", choices=["course", "inverted"], default="course",
                        help="DeepConvNet's dropout")
    parser.add_argument("--seed-axis", choices=["map", "vmap"], default="map",
                        help="map: seeds one after another in the program (faster for convolutions on CPU); "
                             "vmap: batched")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    nets = " ".join(args.nets) if args.nets else "simple double deep"
    steps = f"{args.steps} steps" if args.steps else "the course's steps"
    return cli.train_and_report("convnets", args, f"{nets} x {args.seeds} seeds, {steps}")


if __name__ == "__main__":
    cli.run(main)
