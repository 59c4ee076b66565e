"""Course 2_6, 2_7 and 2_8: SimpleConvNet, DoubleConvNet and DeepConvNet on MNIST with the book's Adam.

    python -m experiments.convnets --out runs/convnets --seeds 5

Each network trains with Adam lr 0.001 (the book's, "course:adam") on batches of 100 drawn with
replacement from the first 5000 training images, for the course's step counts (simple 1000,
double 100, deep 1000); every 10 steps it is evaluated on all 5000 training images and on the
first 1000 test images, as the notebooks do (--full: the whole data set; --train-accuracy batch:
the current batch instead of the training set). Seed s draws the weights, then the batches from
np.random.RandomState(s) (the book's draws after np.random.seed(s)); DeepConvNet's dropout masks come
from jax.random.key(s). Writes figure_<net>.png, results.json and table.md.
Expected (course, spec section 7, single runs on the 1000 test images): SimpleConvNet
0.954-0.961, DeepConvNet 0.973-0.974.
"""

import argparse
import pathlib
import time
from typing import NamedTuple

import jaxdl.optim
from experiments import common, seeded
from jaxdl import report
from jaxdl.models.convnets import CONVNETS, course_init
from jaxdl.nn.dropout import FORMS
from jaxdl.report import figures
from jaxdl.train.run import Schedule
from jaxdl.train.state import Task


class Net(NamedTuple):
    name: str
    title: str
    steps: int  # the notebook's iters_num
    course_test: tuple[float, float] | None  # published single-run test accuracy (spec section 7)


NETS = (
    Net("simple", "SimpleConvNet (2_6)", 1000, (0.954, 0.961)),
    Net("double", "DoubleConvNet (2_7)", 100, None),
    Net("deep", "DeepConvNet (2_8)", 1000, (0.973, 0.974)),
)
BY_NAME = {n.name: n for n in NETS}
COURSE_SLICES = (5000, 1000)  # x_train[:5000], x_test[:1000]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", choices=list(BY_NAME), default=list(BY_NAME))
    parser.add_argument("--steps", type=int, default=None, help="steps for every net (default: the course's per net)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=10, help="steps between evaluations")
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per net, run in one program")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output folder")
    parser.add_argument("--full", action="store_true", help="all 60,000/10,000 images instead of 5000/1000")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images (overrides)")
    parser.add_argument("--test-size", type=int, default=None, help="first N test images (overrides)")
    parser.add_argument("--train-accuracy", choices=["set", "batch"], default="set",
                        help="set: the whole training set (the notebooks); batch: the current batch")
    parser.add_argument("--dropout-form", choices=FORMS, default="course", help="DeepConvNet's dropout")
    parser.add_argument("--seed-axis", choices=seeded.SEED_AXES, default="map",
                        help="map: seeds one after another in the program (faster for convolutions on CPU); vmap")
    common.add_data_flags(parser)
    args = parser.parse_args(argv)
    for flag in ("steps", "train_size", "test_size"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    return args


def slices(args: argparse.Namespace) -> tuple[int | None, int | None]:
    train, test = (None, None) if args.full else COURSE_SLICES
    return args.train_size or train, args.test_size or test


def task_for(net: Net, lr: float, dropout_form: str) -> Task:
    model = CONVNETS[net.name](dropout=dropout_form) if net.name == "deep" else CONVNETS[net.name]()
    return Task(model, jaxdl.optim.create("course:adam", learning_rate=lr), loss="course")


def main(argv=None) -> dict:
    args = parse_args(argv)
    nets = [BY_NAME[name] for name in args.nets]
    schedules = [Schedule(args.steps or net.steps, args.batch_size, args.eval_every) for net in nets]
    for schedule in schedules:
        schedule.check()
    started = time.perf_counter()
    data = common.load_data(args, *slices(args))
    seeds = range(args.seed, args.seed + args.seeds)
    runs = []
    for net, schedule in zip(nets, schedules, strict=True):
        task = task_for(net, args.lr, args.dropout_form)
        runs.append(seeded.train_seeds(task, schedule, data, lambda rng, m=task.model: course_init(m, rng), seeds,
                                       net.title, eval_train=args.train_accuracy == "set", seed_axis=args.seed_axis))
    result = summarize(args, nets, schedules, runs, data, time.perf_counter() - started)
    write_outputs(args, result)
    return result


def summarize(args, nets: list[Net], schedules: list[Schedule], runs: list[seeded.SeededRuns], data,
              wall_s: float) -> dict:
    summaries = []
    for net, schedule, run in zip(nets, schedules, runs, strict=True):
        history = run.history
        train = history.train_accuracy if args.train_accuracy == "set" else history.batch_accuracy
        test = history.test_accuracy
        summaries.append({
            **net._asdict(), "steps": schedule.steps, "eval_steps": schedule.eval_steps,
            "train_accuracy": train, "test_accuracy": test, "test_loss": history.test_loss,
            "step_loss": history.loss,
            "final_train_accuracy_mean": float(train[:, -1].mean()),
            "final_train_accuracy_std": float(train[:, -1].std()),
            "final_test_accuracy_mean": float(test[:, -1].mean()), "final_test_accuracy_std": float(test[:, -1].std()),
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "convnets",
        "settings": {"optimizer": f"course:adam lr {args.lr}", "batch_size": args.batch_size,
                     "eval_every": args.eval_every, "train_size": int(data.train_images.shape[0]),
                     "test_size": int(data.test_images.shape[0]), "train_accuracy": args.train_accuracy,
                     "dropout_form": args.dropout_form, "seed_axis": args.seed_axis,
                     "seeds": list(range(args.seed, args.seed + args.seeds)),
                     "dataset": args.dataset, "loss": "course softmax cross-entropy"},
        "runs": summaries, "compile_s": sum(r["compile_s"] for r in summaries), "wall_s": wall_s,
        "environment": report.environment(),
    }


def write_outputs(args, result: dict) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    settings = result["settings"]
    train_label = (f"train ({settings['train_size']} images)" if settings["train_accuracy"] == "set"
                   else "train (batch)")
    test_label = f"test ({settings['test_size']} images)"
    for r in result["runs"]:
        figures.panel_grid([(f"{r['title']} ({r['final_test_accuracy_mean']:.3f})",
                             {train_label: r["train_accuracy"], test_label: r["test_accuracy"]})],
                           r["eval_steps"], args.out / f"figure_{r['name']}.png", columns=1)
    rows = [(r["title"], r["steps"], report.mean_std([c[-1] for c in r["train_accuracy"]]),
             report.mean_std([c[-1] for c in r["test_accuracy"]]),
             "-" if r["course_test"] is None else "{:.3f}-{:.3f}".format(*r["course_test"]))
            for r in result["runs"]]
    table = report.markdown_table(["network", "steps", f"{train_label} accuracy ({len(settings['seeds'])} seeds)",
                                   f"{test_label} accuracy", "course test (single runs)"], rows)
    report.write_results(args.out, table, result)


if __name__ == "__main__":
    common.cli(main)
