"""The program of Chainer's examples/imagenet/train_imagenet.py in JAX; `experiments.train_imagenet` is its CLI.

Lists hold "path label" lines of 256x256 RGB images (paths relative to the root). Training
takes random crops of the arch's insize (227x227 for alex and nin, 224x224 for the others)
with random horizontal flips, validation the centre crop; the mean image is subtracted at
the same window and the result scaled by 1/255. MomentumSGD
(lr 0.01, momentum 0.9), batch 32, validation batch 250, 10 epochs; validation and
snapshots every 100,000 iterations, a log entry every 1,000 (test mode: every iteration).
Outputs in the output folder: log (JSON, Chainer's LogReport keys), loss.png, snapshot_iter_N
(an orbax checkpoint folder, resumable on any number of devices or processes) and model_iter_N
(a Chainer npz that chainer.serializers.load_npz reads).

Data parallel over the devices of one or many processes (jaxdl.parallel): --batchsize is the
global batch, split evenly over all devices; each process loads only its rows of every training
and validation batch (crops and flips drawn per global slot, so the same as on one device), the
state is replicated, and process 0 alone writes log, loss.png and model_iter_N.
`train(args)` takes the CLI's parsed flags (Chainer's flag names).
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np

import jaxdl.chainer
import jaxdl.optim
from jaxdl import parallel
from jaxdl.atomic import atomic_write, remove_leftovers
from jaxdl.data.epoch_iterator import EpochIterator, sequential_batches
from jaxdl.data.imagelist import ImageListDataset, compute_mean, load_mean, parse_image_list
from jaxdl.data.synthetic import synthetic_images
from jaxdl.data.tfds_images import export_image_lists
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import jit_eval_step, jit_train_step
from jaxdl.train.trainer import Trainer, Triggers

LEARNING_RATE = 0.01  # chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
MOMENTUM = 0.9
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def triggers_from(args: argparse.Namespace) -> Triggers:
    """Chainer's intervals: val/snapshot 100000 and log 1000 iterations, all 1 with --test."""
    val = args.val_interval or (1 if args.test else 100_000)
    return Triggers(stop_epoch=args.epoch, stop_iteration=args.iteration, val_interval=val,
                    log_interval=args.log_interval or (1 if args.test else 1_000),
                    snapshot_interval=args.snapshot_interval or val)


def augmentation_rngs(seed: int, iteration: int, slots: range) -> list[np.random.Generator]:
    """One generator per example slot of the global batch drawn at `iteration`: crops are a function
    of (seed, iteration, slot), so loader threads, processes and resumed runs draw the same ones."""
    return [np.random.default_rng([seed, iteration, slot]) for slot in slots]


class Loader:
    """This process's share of every global batch, assembled into global arrays on the mesh.

    load_rows(indices, iteration, rows) loads the examples `indices[rows]` (the training batch
    drawn at `iteration`; iteration None for validation) as host arrays. A validation batch
    whose size does not split evenly over the devices is padded with copies of its last example,
    weighted 0 (Batch.weights), so the metrics are means over its real examples.
    """

    def __init__(self, mesh, load_rows):
        self.mesh, self.load_rows = mesh, load_rows

    def train_batch(self, indices: np.ndarray, iteration: int) -> Batch:
        rows = parallel.local_rows(self.mesh, len(indices))
        return Batch(*parallel.global_batch(self.mesh, self.load_rows(indices, iteration, rows), len(indices)))

    def val_batch(self, indices: np.ndarray) -> Batch:
        size = parallel.padded_size(len(indices), self.mesh)
        rows = parallel.local_rows(self.mesh, size)
        if size == len(indices):
            return Batch(*parallel.global_batch(self.mesh, self.load_rows(indices, None, rows), size))
        padded = np.concatenate([indices, np.full(size - len(indices), indices[-1])])
        weights = (np.arange(size) < len(indices)).astype(np.float32)
        images, labels = self.load_rows(padded, None, rows)
        return Batch(*parallel.global_batch(self.mesh, (images, labels, weights[rows]), size))

    def val_batches(self, size: int, batch_size: int):
        """The validation set of `size` examples in order, in batches of `batch_size` (the last short)."""
        for indices in sequential_batches(size, batch_size):
            yield self.val_batch(indices)


def image_list_data(train_list: str, val_list: str, root: str, mean_path: str, args: argparse.Namespace,
                    insize: int, num_classes: int, mesh):
    """(train size, load_batch, val_batches) over Chainer-style image lists."""
    train_examples, val_examples = parse_image_list(train_list, num_classes), parse_image_list(val_list, num_classes)
    mean = load_mean(mean_path)
    train = ImageListDataset(train_examples, root, mean, insize, args.loaderjob)
    val = ImageListDataset(val_examples, root, mean, insize, args.loaderjob)

    def load_rows(indices: np.ndarray, iteration: int | None, rows: slice):
        if iteration is None:
            return val.batch(indices[rows])
        return train.batch(indices[rows], augmentation_rngs(args.seed, iteration, range(len(indices))[rows]))

    loader = Loader(mesh, load_rows)
    return len(train), loader.train_batch, lambda: loader.val_batches(len(val), args.val_batchsize)


def synthetic_data(args: argparse.Namespace, insize: int, num_classes: int, mesh):
    """(train size, load_batch, val_batches) over random NHWC tensors."""
    images, labels = synthetic_images(args.synthetic_size, insize, insize, 3, num_classes, args.seed)

    def load_rows(indices: np.ndarray, iteration: int | None, rows: slice):
        return images[indices[rows]], labels[indices[rows]]

    loader = Loader(mesh, load_rows)
    return len(images), loader.train_batch, lambda: loader.val_batches(len(images), args.val_batchsize)


def tfds_lists(args: argparse.Namespace) -> tuple[str, str, str, str]:
    """Export --tfds as image lists under --out; (train list, val list, root, mean file), the
    mean computed (compute_mean) unless --mean names an existing file. Process 0 exports and
    computes; the others wait for it and read the same files."""
    root = os.path.join(args.out, "tfds_" + args.tfds.replace("/", "_"))
    mean_path = args.mean or os.path.join(root, "mean.npy")
    if parallel.is_writer():
        lists = export_image_lists(args.tfds, root, data_dir=args.tfds_data_dir)
        if not os.path.exists(mean_path):
            with atomic_write(mean_path) as f:
                np.save(f, compute_mean(parse_image_list(lists["train"]), root))
    parallel.sync("tfds image lists exported")
    return os.path.join(root, "train.txt"), os.path.join(root, "validation.txt"), root, mean_path


def refuse_non_finite(params, source: str) -> None:
    """Raise ValueError naming `source` and the first parameter that holds NaN or infinite values."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not np.isfinite(np.asarray(leaf)).all():
            raise ValueError(f"{source}: {jax.tree_util.keystr(path)} holds non-finite values; give a model "
                             "with finite weights")


def resume_settings(args: argparse.Namespace) -> dict:
    """The flags a resumed run must share with the run that wrote its snapshot (they fix the model, the
    optimizer's state, the data and the random streams; stop conditions and intervals may change)."""
    names = ("arch", "batchsize", "seed", "dtype", "train", "val", "root", "mean", "tfds", "synthetic",
             "synthetic_size")
    return {name: getattr(args, name) for name in names}


def processes_from(args: argparse.Namespace) -> parallel.Processes:
    return parallel.Processes(args.coordinator_address, args.num_processes, args.process_id)


def train(args: argparse.Namespace) -> Trainer:
    """Start the processes and mesh, build the model, data and Trainer from the CLI's flags, resume
    if asked, train; returns the Trainer."""
    parallel.initialize(processes_from(args))
    mesh = parallel.data_mesh(args.devices)
    parallel.check_divisible(args.batchsize, mesh, f"--batchsize {args.batchsize} (the global batch)")
    parallel.same_in_every_process(
        [args.batchsize, args.val_batchsize, args.seed, args.epoch, args.iteration, args.val_interval,
         args.log_interval, args.snapshot_interval, args.synthetic_size if args.synthetic else None],
        "--batchsize, --val_batchsize, --seed, --epoch, --iteration, --*_interval or --synthetic_size")
    if parallel.is_writer():
        remove_leftovers(args.out)  # temporaries of writes a killed run left in --out
    arch = jaxdl.chainer.get_arch(args.arch)
    insize = arch.input_chw[1]
    model = arch.build().clone(dtype=DTYPES[args.dtype])
    print(f"{parallel.describe(mesh, args.batchsize)}\nDevice: {mesh.devices.ravel()[0]}\nDtype: {args.dtype}\n"
          f"# Minibatch-size: {args.batchsize}\n# epoch: {args.epoch}\n", flush=True)

    if args.synthetic:
        size, load_batch, val_batches = synthetic_data(args, insize, model.num_classes, mesh)
    else:
        lists = tfds_lists(args) if args.tfds else (args.train, args.val, args.root, args.mean or "mean.npy")
        size, load_batch, val_batches = image_list_data(*lists, args, insize, model.num_classes, mesh)

    tx = jaxdl.optim.create("chainer:momentum", learning_rate=LEARNING_RATE, momentum=MOMENTUM)
    task = Task(model, tx, loss="chainer")
    state = jax.jit(task.init)(jax.random.key(args.seed), jnp.zeros((1, insize, insize, 3), jnp.float32))
    if args.initmodel:
        print("Load model from", args.initmodel)
        loaded = jaxdl.chainer.load_npz(args.initmodel, args.arch)
        refuse_non_finite(loaded.params, f"--initmodel {args.initmodel}")
        state = task.state_from({"params": loaded.params, **loaded.model_state}, state.rng)
    state = parallel.put_replicated(mesh, state)

    def save_model(state, path: str) -> None:  # BatchNormalization's running statistics too
        jaxdl.chainer.save_npz(path, jaxdl.chainer.ModelState(state.params, arch.name, state.model_state))

    trainer = Trainer(
        train_step=jit_train_step(task, mesh), eval_step=jit_eval_step(task, mesh), state=state,
        train_iter=EpochIterator(size, args.batchsize, args.seed), load_batch=load_batch,
        val_batches=val_batches, out_dir=args.out, triggers=triggers_from(args),
        learning_rate=LEARNING_RATE, save_model=save_model, settings=resume_settings(args),
        keep_snapshots=args.keep_snapshots, writer=parallel.is_writer())
    if args.resume:
        trainer.resume(args.resume)
    trainer.run()
    parallel.sync("train_imagenet done")  # every process's snapshot shards are written before any exits
    return trainer
