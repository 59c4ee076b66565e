"""The NumPy reference runs that bench_course times: the course's loops, one config after another.

    python -m experiments.bench_course_numpy --configs '<json list>' --steps 100 --data-dir DIR

Each config (a JSON object; "kind" "mlp" or "convnet", see `build`) trains with the course's
loop (jaxdl.reference.course_training.train) for --steps steps with evaluations every
--eval-every steps; prints one JSON object with the load time and, per config, the loop's
seconds and final test accuracy. Imports no JAX: the process is what a NumPy user runs.
"""

import argparse
import json
import time

import numpy as np

from jaxdl import data
from jaxdl.reference import course_convnet, course_numpy, course_training
from jaxdl.reference.optimizers import AffineSGD, CourseCell, make

CONVNETS = {"simple": course_convnet.simple_convnet, "double": course_convnet.double_convnet,
            "deep": course_convnet.deep_convnet}


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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", required=True, help="JSON list of configs")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--train-accuracy", choices=["set", "batch"], default="set")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train, test = data.load("mnist", args.data_dir)
    convnet = json.loads(args.configs)[0]["kind"] == "convnet"

    def images(split, limit):  # the book's load_mnist: float32 in [0, 1]; flatten=False for the conv nets
        x = split.images[:limit]
        return x.transpose(0, 3, 1, 2) if convnet else x.reshape(len(x), -1)

    x_train, t_train = images(train, args.train_size), train.labels[:args.train_size]
    x_test, t_test = images(test, args.test_size), test.labels[:args.test_size]
    result = {"load_s": time.perf_counter() - started, "steps": args.steps, "runs": []}
    for config in json.loads(args.configs):
        rng = np.random.RandomState(args.seed)  # np.random.seed(seed): weights, batches, dropout masks
        net, optimizer = build(config, rng)
        began = time.perf_counter()
        curves = course_training.train(net, optimizer, x_train, t_train, x_test, t_test, args.steps, args.eval_every,
                                       lambda i: rng.choice(len(x_train), args.batch_size), args.train_accuracy)
        result["runs"].append({"name": config["name"], "seconds": time.perf_counter() - began,
                               "final_test_accuracy": curves["test_accuracy"][-1]})
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
