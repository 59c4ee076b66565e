"""Study text Section 1 (course 2_2_2): activation x weight init x batch norm, 12 configs in one program.

    python -m experiments.vanishing_gradient --data-dir ../shared/data/mnist --seeds 5 --out runs/vanishing_gradient

MultiLayerNet [40, 20], SGD 0.1 on W and b only, batch 100 drawn with replacement, 2000 steps,
test accuracy on all 10,000 test images every 100 steps (jaxdl.course.vanishing_gradient).
Writes figure.png, table.md and results.json into --out.
"""

from jaxdl import cli


def parse_args(argv: list[str] | None = None):
    parser = cli.parser(__doc__, "vanishing_gradient")
    cli.add_run_flags(parser, steps=2000, eval_every=100)
    cli.add_data_flags(parser)
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    parser.add_argument("--hidden", type=int, nargs="+", default=[40, 20], help="hidden layer sizes")
    parser.add_argument("--update", choices=["affine", "all"], default="affine",
                        help="affine: W and b only, as the notebook's loop; all: gamma/beta too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    return cli.train_and_report("vanishing_gradient", args, f"12 configs x {args.seeds} seeds, {args.steps} steps")


if __name__ == "__main__":
    cli.run(main)
