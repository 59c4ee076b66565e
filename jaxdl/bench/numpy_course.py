"""The NumPy side of the benchmarks: the course's networks and loop in float64, as a child process.

    python -m jaxdl.bench.numpy_course course --configs '<json list>' --steps 100 --data-dir DIR
    python -m jaxdl.bench.numpy_course grid --configs '[["relu", "He", false]]' --seeds 1 --steps 2000
    python -m jaxdl.bench.numpy_course optimizers --specs notebook:sgd notebook:adam --seeds 10 --runs 20 \
        --steps 1000 --eval-every 10

Every mode trains with the notebooks' loop (jaxdl.reference.course_training.train), batches of
100 drawn with replacement, and prints one JSON object on stdout with its data-loading time.
It imports no JAX: the process is what a NumPy user runs, so the benchmarks start it with
jaxdl.bench.harness.numpy_environment().

- course (bench_course): each config (a JSON object; "kind" "mlp" or "convnet", see `build`)
  after np.random.RandomState(--seed), --steps steps, evaluations every --eval-every; per
  config the loop's seconds and final test accuracy.
- grid (bench_grid): for each seed s, np.random.default_rng(s) draws, config after config, the
  weights and batches of the vanishing-gradient runs ([activation, init, batchnorm] triples,
  784-40-20-10, SGD 0.1 on W and b only, evaluations every 100 steps); their total seconds.
- optimizers (bench_optimizers): the first --runs of the (seed, spec) runs, seeds outer; run s
  is np.random.RandomState(s) drawing the weights of the sigmoid 784-40-20-10 net (std 0.01)
  and then the batches, as jaxdl's seed s; evaluations on the batch and the test set; every
  run's final test accuracy.
"""

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np

from jaxdl import data
from jaxdl.reference import course_convnet, course_numpy, course_training
from jaxdl.reference.optimizers import AffineSGD, CourseCell, make

CONVNETS = {"simple": course_convnet.simple_convnet, "double": course_convnet.double_convnet,
            "deep": course_convnet.deep_convnet}
BATCH = 100
GRID_HIDDEN, GRID_LEARNING_RATE, GRID_EVAL_EVERY = [40, 20], 0.1, 100


def build(config: dict, rng: np.random.RandomState):
    """(network, optimizer) for a config.

    mlp: hidden, activation, weight_init, batchnorm (bool), dropout, weight_decay, l1,
    trainable ("all" | "affine" | "hidden_affine"), optimizer ("sgd" | "momentum" | "adagrad" |
    "adam"), learning_rate. convnet: net ("simple" | "double" | "deep"), learning_rate (Adam).
    """
    if config["kind"] == "convnet":
        return CONVNETS[config["net"]](rng=rng), make("course:adam", learning_rate=config["learning_rate"])
    hidden, lr, cells = config["hidden"], config["learning_rate"], config["trainable"] == "hidden_affine"
    net = course_numpy.MultiLayerNet(
        784, hidden, 10, activation=config["activation"], weight_init_std=config["weight_init"],
        weight_decay_lambda=0.0 if cells else config["weight_decay"], use_dropout=config["dropout"] > 0,
        dropout_ratio=config["dropout"], use_batchnorm=config["batchnorm"], rng=rng)
    if cells:
        return net, CourseCell(lr, len(hidden), l2=config["weight_decay"], l1=config["l1"])
    if config["l1"]:  # L1 on every layer: the cell's update over all of them (SGD only)
        return net, CourseCell(lr, len(hidden) + 1, l1=config["l1"])
    if config["trainable"] == "affine":
        return net, AffineSGD(lr)
    return net, make(f"course:{config['optimizer']}", learning_rate=lr)


def batches(rng: np.random.RandomState | np.random.Generator, n: int, batch_size: int = BATCH):
    """The course's batch draw, np.random.choice(train_size, batch_size), for every step."""
    return lambda step: rng.choice(n, batch_size)


def load_flat(data_dir: str | None) -> tuple[data.Split, data.Split, np.ndarray, np.ndarray, float]:
    """(train, test, train images and test images as (N, 784) rows, seconds the load took)."""
    started = time.perf_counter()
    train, test = data.load("mnist", data_dir)
    x_train, x_test = train.images.reshape(-1, 784), test.images.reshape(-1, 784)
    return train, test, x_train, x_test, time.perf_counter() - started


def run_course(configs: Sequence[dict], steps: int, eval_every: int = 10, batch_size: int = BATCH,
               train_size: int | None = None, test_size: int | None = None, train_accuracy: str = "set",
               data_dir: str | None = None, seed: int = 0) -> dict:
    """bench_course's runs: {"load_s", "steps", "runs": [{"name", "seconds", "final_test_accuracy"}]}."""
    started = time.perf_counter()
    train, test = data.load("mnist", data_dir)
    convnet = configs[0]["kind"] == "convnet"

    def images(split, limit):  # the book's load_mnist: float32 in [0, 1]; flatten=False for the conv nets
        x = split.images[:limit]
        return x.transpose(0, 3, 1, 2) if convnet else x.reshape(len(x), -1)

    x_train, t_train = images(train, train_size), train.labels[:train_size]
    x_test, t_test = images(test, test_size), test.labels[:test_size]
    result = {"load_s": time.perf_counter() - started, "steps": steps, "runs": []}
    for config in configs:
        rng = np.random.RandomState(seed)  # np.random.seed(seed): weights, batches, dropout masks
        net, optimizer = build(config, rng)
        began = time.perf_counter()
        curves = course_training.train(net, optimizer, x_train, t_train, x_test, t_test, steps, eval_every,
                                       batches(rng, len(x_train), batch_size), train_accuracy)
        result["runs"].append({"name": config["name"], "seconds": time.perf_counter() - began,
                               "final_test_accuracy": curves["test_accuracy"][-1]})
    return result


def run_grid(configs: Sequence[Sequence], seeds: int, steps: int, data_dir: str | None = None) -> dict:
    """bench_grid's runs: {"data_s", "grid_s"} for `seeds` x the (activation, init, batchnorm) configs."""
    train, test, x_train, x_test, data_s = load_flat(data_dir)
    started = time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for activation, init, batchnorm in configs:
            init = float(init) if init[0].isdigit() else init
            net = course_numpy.MultiLayerNet(784, GRID_HIDDEN, 10, activation=activation, weight_init_std=init,
                                             use_batchnorm=batchnorm, rng=rng)
            course_training.train(net, AffineSGD(GRID_LEARNING_RATE), x_train, train.labels, x_test, test.labels,
                                  steps, GRID_EVAL_EVERY, batches(rng, len(x_train)), train_accuracy="batch")
    return {"data_s": data_s, "grid_s": time.perf_counter() - started}


def run_optimizers(specs: Sequence[str], seeds: int, runs: int, steps: int, eval_every: int,
                   data_dir: str | None = None) -> dict:
    """bench_optimizers's runs: {"runs", "data_s", "loop_s", "final"}, final holding each run's
    {"optimizer", "seed", "final_test_accuracy"}."""
    train, test, x_train, x_test, data_s = load_flat(data_dir)
    started = time.perf_counter()
    order = [(spec, seed) for seed in range(seeds) for spec in specs][:runs]
    final = []
    for spec, seed in order:
        rng = np.random.RandomState(seed)
        net = course_numpy.MultiLayerNet(784, [40, 20], 10, activation="sigmoid", weight_init_std=0.01, rng=rng)
        curves = course_training.train(net, make(spec), x_train, train.labels, x_test, test.labels,
                                       steps, eval_every, batches(rng, x_train.shape[0]), train_accuracy="batch")
        final.append({"optimizer": spec, "seed": seed, "final_test_accuracy": curves["test_accuracy"][-1]})
    return {"runs": runs, "data_s": data_s, "loop_s": time.perf_counter() - started, "final": final}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jaxdl.bench.numpy_course", description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    course = modes.add_parser("course", help="bench_course's configs")
    course.add_argument("--configs", required=True, help="JSON list of configs (see build)")
    course.add_argument("--steps", type=int, required=True, help="training steps per config")
    course.add_argument("--eval-every", type=int, default=10, help="steps between evaluations (%(default)s)")
    course.add_argument("--batch-size", type=int, default=BATCH, help="examples per step (%(default)s)")
    course.add_argument("--train-size", type=int, default=None, help="use the first N training examples (None: all)")
    course.add_argument("--test-size", type=int, default=None, help="use the first N test examples (None: all)")
    course.add_argument("--train-accuracy", choices=["set", "batch"], default="set",
                        help="training accuracy on the whole training set or on the step's batch (%(default)s)")
    course.add_argument("--seed", type=int, default=0, help="np.random.RandomState seed of every config (%(default)s)")
    grid = modes.add_parser("grid", help="bench_grid's vanishing-gradient runs")
    grid.add_argument("--configs", required=True, help="JSON list of [activation, weight init, batchnorm]")
    grid.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1, each running every config (%(default)s)")
    grid.add_argument("--steps", type=int, required=True, help="training steps per run")
    optimizers = modes.add_parser("optimizers", help="bench_optimizers's runs")
    optimizers.add_argument("--specs", nargs="+", required=True, help="optimizer specs (family:name), in order")
    optimizers.add_argument("--seeds", type=int, required=True, help="seeds 0..N-1, each running every spec")
    optimizers.add_argument("--runs", type=int, required=True, help="run only the first N (seed, spec) pairs")
    optimizers.add_argument("--steps", type=int, required=True, help="training steps per run")
    optimizers.add_argument("--eval-every", type=int, required=True, help="steps between evaluations")
    for mode in (course, grid, optimizers):
        mode.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.mode == "course":
        result = run_course(json.loads(args.configs), args.steps, args.eval_every, args.batch_size, args.train_size,
                            args.test_size, args.train_accuracy, args.data_dir, args.seed)
    elif args.mode == "grid":
        result = run_grid(json.loads(args.configs), args.seeds, args.steps, args.data_dir)
    else:
        result = run_optimizers(args.specs, args.seeds, args.runs, args.steps, args.eval_every, args.data_dir)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
