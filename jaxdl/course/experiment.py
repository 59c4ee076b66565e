"""What the course experiments share: their common settings, data, seeds, summaries and outputs.

Each experiment module of jaxdl.course has a frozen `Config` (a subclass of `CourseConfig`
whose field names are its CLI's flags) and `train_and_evaluate(config, workdir) -> result`,
which checks the config, loads the data, trains every run of the experiment in compiled
programs (seeds vmapped or mapped), summarizes the curves and writes the outputs into
`workdir`. The CLIs in experiments/ only parse flags into a Config and call it.
"""

import dataclasses
import functools
import math
import os
import pathlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl import data, parallel, report
from jaxdl.atomic import atomic_folder, check_output_folder, remove_leftovers
from jaxdl.train.grid import SeededRuns, train_seeds
from jaxdl.train.run import Data, Schedule
from jaxdl.train.state import Task

DATASETS = ("mnist", "fashion_mnist")


@dataclasses.dataclass(frozen=True)
class CourseConfig:
    """Settings every course experiment takes; a field `x_y` is the CLI flag `--x-y`.

    Seed s is np.random.RandomState(s): it draws the initial weights and then the batches
    exactly as the course's NumPy code does after np.random.seed(s); the runs use the seeds
    `seed, seed + 1, ..., seed + seeds - 1`.

    devices: the seeds are split over this many devices of each process (None: all of them;
    jaxdl.parallel); coordinator_address, num_processes, process_id: a multi-process run
    (jax.distributed.initialize), all None for one process. Neither changes the numbers.
    """

    dataset: str = "mnist"
    data_dir: str | None = None  # folder with the four IDX files; None: $JAXDL_DATA_DIR, else TFDS
    steps: int = 1000
    batch_size: int = 100
    eval_every: int = 10
    seeds: int = 1
    seed: int = 0
    devices: int | None = None
    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    @property
    def processes(self) -> parallel.Processes:
        return parallel.Processes(self.coordinator_address, self.num_processes, self.process_id)

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.steps, self.batch_size, self.eval_every)

    def check(self) -> None:
        """Raise ValueError naming the field (and its flag) of the first invalid setting."""
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset (--dataset) must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        for name in ("steps", "batch_size", "eval_every", "seeds", "devices"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} (--{name.replace('_', '-')}) must be a positive integer, got {value!r}")
        self.processes.check(flag)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed (--seed) must be a non-negative integer, got {self.seed!r}")
        if self.steps is not None:
            self.schedule.check()
        for name in ("lr", "learning_rate"):
            if hasattr(self, name):
                check_positive_finite(name, getattr(self, name))
        if hasattr(self, "hidden") and (not self.hidden or any(not isinstance(size, int) or size < 1
                                                               for size in self.hidden)):
            raise ValueError(f"hidden (--hidden) must be positive layer sizes, got {list(self.hidden)}")

    def networks_per_seed(self) -> int:
        """How many networks train side by side for each seed in one program (memory estimate)."""
        return 1

    def max_steps(self) -> int:
        """The most steps any of the experiment's programs runs (memory estimate)."""
        return self.steps

    def to_dict(self) -> dict[str, Any]:
        """The config as results.json records it: every field but where it ran (devices, processes;
        results.json's "environment" says that), and the seed list."""
        placement = ("devices", "coordinator_address", "num_processes", "process_id")
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k not in placement}, "seeds": self.seed_list}


def flag(name: str) -> str:
    """The CLI flag of a config field: train_size -> --train-size."""
    return "--" + name.replace("_", "-")


def check_positive_finite(name: str, value: Any) -> None:
    """Raise ValueError naming the field and its flag unless `value` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} ({flag(name)}) must be a finite number > 0, got {value!r}")


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_estimate_bytes(config: CourseConfig) -> int:
    """What a program of `config` holds beyond the data and the networks: every step's batch indices
    (int32, on the host and on the device) and every network's step losses (float32)."""
    return config.seeds * config.max_steps() * (2 * 4 * config.batch_size + 4 * config.networks_per_seed())


def check_memory(config: CourseConfig) -> None:
    """Refuse, before any work, a run whose `memory_estimate_bytes` exceeds the available memory,
    with the estimate and the flags that shrink it."""
    need, have = memory_estimate_bytes(config), available_memory_bytes()
    if need > have:
        raise ValueError(f"this run would hold about {need / 2**30:.1f} GiB of batch indices and step losses "
                         f"({config.seeds} seeds x {config.max_steps()} steps x batch {config.batch_size} x "
                         f"{config.networks_per_seed()} networks), more than the {have / 2**30:.1f} GiB "
                         "available; lower --steps, --seeds or --batch-size")


def load_data(config: CourseConfig, train_limit: int | None = None, test_limit: int | None = None,
              limit_flags: tuple[str, str] = ("--train-size", "--test-size")) -> Data:
    """`config.dataset` as device arrays; optionally only the first train/test examples (the course's
    slices). A limit beyond the data is an error naming its flag (`limit_flags`)."""
    train, test = data.load(config.dataset, config.data_dir)
    for split, limit, name in ((train, train_limit, limit_flags[0]), (test, test_limit, limit_flags[1])):
        if limit is not None and limit > len(split.labels):
            raise ValueError(f"{name} {limit} is more than the {len(split.labels)} images {config.dataset} has")
    return Data(jnp.asarray(train.images[:train_limit]), jnp.asarray(train.labels[:train_limit]),
                jnp.asarray(test.images[:test_limit]), jnp.asarray(test.labels[:test_limit]))


def seed_stats(per_seed: np.ndarray, name: str, diverged_at: np.ndarray | None = None) -> dict[str, float]:
    """{"<name>_mean", "<name>_std"}: mean and population std over seeds of one value per seed, in
    float64 (the tables print these), over the seeds that did not diverge (`diverged_at` 0); NaN
    (null in results.json) when every seed diverged."""
    values = np.asarray(per_seed, np.float64)
    if diverged_at is not None:
        values = values[np.asarray(diverged_at) == 0]
    if values.size == 0:
        return {f"{name}_mean": float("nan"), f"{name}_std": float("nan")}
    return {f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std())}


def final_stats(curves: np.ndarray, name: str, diverged_at: np.ndarray | None = None) -> dict[str, float]:
    """`seed_stats` of the last point of each seed's curve ([seeds, points]) as "final_<name>_mean/std"."""
    return seed_stats(np.asarray(curves)[:, -1], f"final_{name}", diverged_at)


def divergence(label: str, diverged_at: np.ndarray) -> dict[str, Any]:
    """{"diverged_at_step": per seed the step its loss or parameters went non-finite, None if never},
    and a line on stderr naming `label` and the seeds that diverged."""
    steps = [int(step) or None for step in np.asarray(diverged_at)]
    diverged = [(seed, step) for seed, step in enumerate(steps) if step]
    if diverged:
        where = ", ".join(f"seed index {seed} at step {step}" for seed, step in diverged)
        print(f"warning: {label} diverged (non-finite loss or parameters): {where}", file=sys.stderr, flush=True)
    return {"diverged_at_step": steps}


def divergence_note(run: dict[str, Any]) -> str:
    """'' when no seed of `run` diverged; else ' (k/S diverged)' for a table cell or figure title."""
    steps = run.get("diverged_at_step") or []
    count = sum(step is not None for step in steps)
    return f" ({count}/{len(steps)} diverged)" if count else ""


def stats_cell(run: dict[str, Any], name: str, seeds: int) -> str:
    """The table cell of the `seed_stats` stored in `run` under `name`: 'mean ± std', or the value for
    one seed; with diverged seeds, the statistics of the others and '(k/S diverged)', or
    'diverged at step k' when every seed diverged."""
    mean, std = run[f"{name}_mean"], run[f"{name}_std"]
    if not np.isfinite(mean):
        return f"diverged at step {min(step for step in run['diverged_at_step'] if step)}"
    finite = seeds - sum(step is not None for step in run.get("diverged_at_step") or [])
    return (f"{mean:.3f}" if finite == 1 else f"{mean:.3f} ± {std:.3f}") + divergence_note(run)


def course_cell(published: float | Sequence[float] | None, digits: str = ".3f") -> str:
    """The course's published single-run result as a table cell: '-' when it gives none, one number,
    or 'low-high' (equal ends printed once)."""
    if published is None:
        return "-"
    values = [published] if isinstance(published, (int, float)) else list(published)
    return "-".join(dict.fromkeys(f"{v:{digits}}" for v in values))


def train_each(config: CourseConfig, data: Data, runs: Sequence[tuple[str, Task, Schedule]],
               init: Callable[[Any, np.random.RandomState], dict], eval_train: bool = False,
               seed_axis: str = "vmap", mesh: Mesh | None = None) -> list[SeededRuns]:
    """Each (label, task, schedule) of `runs` trained from every seed of `config` (one compiled program
    per task, `jaxdl.train.grid.train_seeds`, the seeds split over `mesh`'s devices), with a progress
    line; `init(model, rng)` draws a network's initial variables from a seed's stream."""
    return [train_seeds(task, schedule, data, functools.partial(init, task.model), config.seed_list,
                        report.Progress(label, schedule.steps), eval_train, seed_axis, mesh)
            for label, task, schedule in runs]


def run_experiment(name: str, config: CourseConfig, workdir: str | os.PathLike, load: Callable[[], Data],
                   train: Callable[[Data, Mesh], dict[str, Any]],
                   write: Callable[[pathlib.Path, dict[str, Any]], None]) -> dict[str, Any]:
    """The course experiments' skeleton: check `config` and `workdir` (a new or empty folder, or an
    earlier output of experiment `name`), start the processes and the device mesh
    (`config.devices`, `config.processes`), remove what killed runs left there, `load()` the data,
    `train(data, mesh)` (a result dict holding at least compile_s and run_s), add the timings and
    the environment, `write` the outputs (process 0 only) into a staging folder that then replaces
    `workdir` as a whole, and return the result."""
    config.check()
    check_memory(config)
    check_output_folder(workdir, name)
    parallel.initialize(config.processes)
    mesh = parallel.data_mesh(config.devices)
    if mesh.size > 1:
        print(parallel.describe(mesh) + f"; {config.seeds} seed{'s' if config.seeds > 1 else ''} split over it",
              flush=True)
    if parallel.is_writer():
        remove_leftovers(workdir)
    started = time.perf_counter()
    data = jax.block_until_ready(load())
    load_s = time.perf_counter() - started
    result = train(data, mesh)
    result.update(load_s=load_s, wall_s=time.perf_counter() - started,
                  environment={**report.environment(), "processes": jax.process_count(), "devices": mesh.size})
    if parallel.is_writer():
        with atomic_folder(workdir) as staging:
            write(staging, result)
    parallel.sync(f"{name} outputs written")
    return result
