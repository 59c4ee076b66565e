"""A Chainer-style training loop (Trainer + StandardUpdater + the ImageNet example's extensions).

Each iteration draws the next index batch, loads it, and takes one jitted train step; then,
in Chainer's extension order: evaluation on the validation set (val trigger), the learning
rate (log trigger), a log entry with a printed row and a loss plot (log trigger), the
progress bar, and the snapshots (snapshot trigger). Triggers fire when the iteration count
is a multiple of their interval. Training stops after `stop_iteration` iterations, or when
the iterator reaches `stop_epoch` (Chainer's (E, 'epoch') stop trigger).

A snapshot (an orbax checkpoint folder, jaxdl.train.checkpoint) holds the TrainState and, as
JSON, the iterator position, the log and the elapsed time, so `resume` continues exactly where
the run was: same batches, same dropout masks and augmentations, bit-identical parameters.

In a multi-process run every process runs the same Trainer on its share of the devices (the
steps take global arrays); only the `writer` process writes the log, loss.png, the printed
report, the progress bar and model_iter_N, while every process writes its shards of each
snapshot (the output folder must be one that all processes see).
"""

import contextlib
import dataclasses
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np

from jaxdl.data.epoch_iterator import EpochIterator
from jaxdl.train.checkpoint import CheckpointError, remove_checkpoint_leftovers, restore_checkpoint, save_checkpoint
from jaxdl.train.log_report import LogReport, PrintReport, ProgressBar
from jaxdl.train.plot_report import plot_log
from jaxdl.train.state import Batch, TrainState
from jaxdl.train.step import EvalStepFn, Metrics, TrainStepFn


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during `Trainer.run`: the step in flight finished and a snapshot was written."""


@contextlib.contextmanager
def _deferred_interrupt(enabled: bool = True):
    """While inside, SIGINT only sets a flag (the yielded callable reads it), so a step and its
    extensions always finish; outside the main thread, where handlers cannot be set, or when not
    `enabled`, nothing changes."""
    received = []
    if not enabled:
        yield lambda: False
        return
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread
        yield lambda: False
        return
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)


PRINT_KEYS = ("epoch", "iteration", "main/loss", "validation/main/loss",
              "main/accuracy", "validation/main/accuracy", "lr")  # train_imagenet.py's PrintReport
PLOT_KEYS = ("main/loss", "validation/main/loss")


@dataclasses.dataclass(frozen=True)
class Triggers:
    """When Chainer's trainer extensions fire, in iterations; training stops after stop_iteration
    iterations if set, else after stop_epoch epochs."""

    stop_epoch: int = 10
    stop_iteration: int | None = None
    val_interval: int = 100_000
    log_interval: int = 1_000
    snapshot_interval: int = 100_000
    progress_interval: int = 10

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and value < 1:
                raise ValueError(f"{field.name} must be >= 1, got {value}")


@dataclasses.dataclass
class Trainer:
    """Runs `train_step` over `train_iter` batches; see the module docstring for the order.

    load_batch(indices, iteration) -> Batch loads the batch drawn at 1-based `iteration`
    (deterministically: augmentation randomness must depend only on its arguments).
    val_batches() yields the validation batches; their metrics are averaged with equal
    weight per batch (Chainer's Evaluator). save_model(state, path) writes a model
    snapshot (e.g. a Chainer npz, from the TrainState's params and model_state) next to each
    trainer snapshot. Every key of the train step's metrics is observed as main/<key>.
    """

    train_step: TrainStepFn
    eval_step: EvalStepFn
    state: TrainState
    train_iter: EpochIterator
    load_batch: Callable[[np.ndarray, int], Batch]
    val_batches: Callable[[], Iterable[Batch]]
    out_dir: str
    triggers: Triggers
    learning_rate: float
    save_model: Callable[[Any, str], None] | None = None
    print_report: Callable[[dict], None] = dataclasses.field(default_factory=lambda: PrintReport(PRINT_KEYS))
    elapsed_before: float = 0.0  # seconds spent in earlier runs of a resumed training
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # what a resumed run must share
    keep_snapshots: int | None = None  # keep the newest N snapshots (and their models); None: all, as Chainer
    writer: bool = True  # this process writes the log, plots, printed report and models (process 0)

    def __post_init__(self) -> None:
        if self.keep_snapshots is not None and (isinstance(self.keep_snapshots, bool) or
                                                not isinstance(self.keep_snapshots, int) or self.keep_snapshots < 1):
            raise ValueError(f"keep_snapshots must be a positive int or None (all), got {self.keep_snapshots!r}")
        os.makedirs(self.out_dir, exist_ok=True)
        if self.writer:
            remove_checkpoint_leftovers(self.out_dir)
        self.log_report = LogReport(os.path.join(self.out_dir, "log") if self.writer else None)
        self.last_snapshot: str | None = None

    @property
    def iteration(self) -> int:
        return self.train_iter.iteration

    @property
    def total_iterations(self) -> int:
        """Iterations of the whole run: stop_iteration, or ceil(stop_epoch * N / batch size)."""
        if self.triggers.stop_iteration is not None:
            return self.triggers.stop_iteration
        return -(-self.triggers.stop_epoch * self.train_iter.size // self.train_iter.batch_size)

    def done(self) -> bool:
        if self.triggers.stop_iteration is not None:
            return self.iteration >= self.triggers.stop_iteration
        return self.train_iter.epoch >= self.triggers.stop_epoch

    def run(self) -> TrainState:
        """Train until the stop condition; returns the final state (also in self.state)."""
        stop_label = (f"{self.triggers.stop_iteration} iterations" if self.triggers.stop_iteration is not None
                      else f"{self.triggers.stop_epoch} epochs")
        progress = ProgressBar(self.total_iterations, stop_label,
                               self.triggers.progress_interval)
        start = time.perf_counter()
        previous = None  # (iteration, metrics) of the step before
        # Ctrl-C snapshots need every process to agree to snapshot; a multi-process run stops at once
        # instead and resumes from its last periodic snapshot.
        with _deferred_interrupt(enabled=jax.process_count() == 1) as interrupted:
            while not self.done():
                indices = next(self.train_iter)
                self.state, metrics = self.train_step(self.state, self.load_batch(indices, self.iteration))
                if previous is not None:  # keep at most one step queued ahead of the host
                    self._check_finite(*previous)
                previous = (self.iteration, metrics)
                elapsed = self.elapsed_before + time.perf_counter() - start
                self._extensions(metrics, elapsed, progress)
                if interrupted():
                    self._check_finite(*previous)
                    if self.last_snapshot != self.snapshot_path(self.iteration):
                        self.snapshot(elapsed)
                    raise TrainingInterrupted(
                        f"interrupted after iteration {self.iteration}; snapshot {self.last_snapshot} holds it "
                        f"(continue with --resume {self.last_snapshot})")
        if previous is not None:
            self._check_finite(*previous)
        self.elapsed_before += time.perf_counter() - start
        return self.state

    def _check_finite(self, iteration: int, metrics: Metrics) -> None:
        """Stop with FloatingPointError at the first non-finite training loss, naming the iteration and
        the last snapshot written (every snapshot holds finite parameters)."""
        loss = float(jax.device_get(metrics["loss"]))
        if not np.isfinite(loss):
            last = (f"the last good snapshot is {self.last_snapshot} (continue with --resume {self.last_snapshot})"
                    if self.last_snapshot else "no snapshot was written before it")
            raise FloatingPointError(f"main/loss is {loss} at iteration {iteration}: training stopped; {last}; "
                                     "lower the learning rate or check the inputs for NaN")

    def _extensions(self, metrics: Metrics, elapsed: float, progress: ProgressBar) -> None:
        iteration, triggers = self.iteration, self.triggers
        observation = {f"main/{key}": value for key, value in metrics.items()}  # main/loss1.. of GoogLeNet too
        if iteration % triggers.val_interval == 0:
            observation.update(self.evaluate())
        if iteration % triggers.log_interval == 0:
            observation["lr"] = self.learning_rate  # extensions.observe_lr()
        self.log_report.observe(observation)
        if iteration % triggers.log_interval == 0:
            entry = self.log_report.emit(self.train_iter.epoch, iteration, elapsed)
            if self.writer:
                self.print_report(entry)
                plot_log(self.log_report.log, PLOT_KEYS, os.path.join(self.out_dir, "loss.png"))
        if self.writer:
            progress(iteration, self.train_iter.epoch, self.train_iter.epoch_detail)
        if iteration % triggers.snapshot_interval == 0:
            self._check_finite(iteration, metrics)
            self.snapshot(elapsed)

    def evaluate(self) -> dict[str, float]:
        """validation/main/{loss,accuracy}: the unweighted mean of the per-batch means."""
        per_batch = [self.eval_step(self.state, batch) for batch in self.val_batches()]
        if not per_batch:
            raise ValueError("the validation set is empty")
        fetched = jax.device_get(per_batch)
        return {f"validation/main/{key}": float(np.mean([m[key] for m in fetched], dtype=np.float64))
                for key in fetched[0]}

    def snapshot_path(self, iteration: int) -> str:
        return os.path.join(self.out_dir, f"snapshot_iter_{iteration}")  # extensions.snapshot()'s name

    def snapshot(self, elapsed: float) -> None:
        """Write model_iter_N (with save_model), then snapshot_iter_N (trainer state and `settings`),
        each atomically: a snapshot on disk always has its model beside it. Non-finite parameters are
        never written: FloatingPointError instead."""
        if not all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(jax.device_get(self.state.params))):
            raise FloatingPointError(f"the parameters are not finite after iteration {self.iteration}: training "
                                     "stopped before snapshotting them; lower the learning rate")
        if self.save_model is not None and self.writer:
            self.save_model(self.state, os.path.join(self.out_dir, f"model_iter_{self.iteration}"))
        meta = {"iterator": self.train_iter.state_dict(), "log_report": self.log_report.state_dict(),
                "elapsed_time": elapsed, "settings": self.settings}
        save_checkpoint(self.snapshot_path(self.iteration), self.state, meta)
        self.last_snapshot = self.snapshot_path(self.iteration)
        if self.keep_snapshots is not None and self.writer:
            self._retire_old_snapshots()

    def _retire_old_snapshots(self) -> None:
        """Delete all but the newest `keep_snapshots` snapshot_iter_N (and model_iter_N) files up to this
        iteration, oldest first, after the new snapshot is on disk (later ones, of an earlier run that
        this one resumed before its end, are left alone)."""
        iterations = sorted(int(name[len("snapshot_iter_"):]) for name in os.listdir(self.out_dir)
                            if name.startswith("snapshot_iter_") and name[len("snapshot_iter_"):].isdigit()
                            and int(name[len("snapshot_iter_"):]) <= self.iteration)
        for iteration in iterations[:-self.keep_snapshots]:
            for name in (f"model_iter_{iteration}", f"snapshot_iter_{iteration}"):
                path = os.path.join(self.out_dir, name)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(path)

    def resume(self, path: str) -> None:
        """Continue from a snapshot written by `snapshot` for the same model, optimizer and `settings`
        (a CheckpointError names every setting that differs)."""
        state, meta = restore_checkpoint(path, self.state)
        saved = meta.get("settings", {})
        differ = [f"{key}: {saved.get(key)!r} in the snapshot, {value!r} now" for key, value in self.settings.items()
                  if key in saved and saved[key] != value]
        if differ:
            raise CheckpointError(f"{path} was written with other settings ({'; '.join(differ)}); resume with "
                                  "the settings it was written with, or start a new run")
        self.state = state
        self.train_iter.load_state_dict(meta["iterator"])
        self.log_report.load_state_dict(meta["log_report"])
        self.elapsed_before = float(meta["elapsed_time"])
