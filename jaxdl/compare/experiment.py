"""The comparison as a whole: settings checked before any work, one sweep program per workload,
selection on validation, the report on test, outputs written atomically.

Per workload and optimizer, with K trials x S seeds:
- selection: the trial with the best mean final validation accuracy over its seeds (a diverged run
  counts 0; `stats.select_trial`); the test set is never looked at for it;
- reported: the selected trial's final validation and test accuracy, mean and 95% Student-t
  confidence interval over its S seeds (`stats.t_interval`; diverged seeds left out and counted);
- steps to target (AlgoPerf): a run's first evaluation step with validation accuracy >= the workload's
  target; the optimizer's is each seed's fastest trial (a study = a seed), then the median over seeds;
- wall time to target: those steps times the seconds per step of that optimizer's loop in the sweep
  (all its K x S runs advance together, so this is the sweep's time, measured at the evaluations);
- performance profiles and scores across workloads (`profiles`), on steps and on wall time.
"""

import dataclasses
import math
import os
import pathlib
import re
import time
from typing import Any

import numpy as np

from jaxdl.compare import profiles, spaces, specs, stats, workloads

EXPERIMENT = "compare_optimizers"
DEFAULT_WORKLOADS = ("mnist_mlp", "fashion_mnist_mlp")
DEFAULT_OPTIMIZERS = ("course:adam", "optax:adamw", "optax:lion", "chainer:momentum")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of a comparison; a field `x_y` is the CLI flag `--x-y`."""

    workloads: tuple[str, ...] = DEFAULT_WORKLOADS
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    trials: int = 8
    seeds: int = 3
    seed: int = 0
    search: str = "quasirandom"
    space: tuple[str, ...] = ()  # "SPEC:KEY=DIST" overrides of the default search spaces
    schedule: str = "constant"
    steps: int | None = None  # every workload's step budget; None: each workload's own
    eval_every: int | None = None
    target: tuple[str, ...] = ()  # "VALUE" for every workload or "WORKLOAD=VALUE"
    data_root: str | None = None
    member_axis: str | None = None  # "vmap" or "map" for every workload; None: each workload's own
    devices: int | None = None  # devices of each process the runs are split over; None: all
    coordinator_address: str | None = None  # a multi-process run (jaxdl.parallel.Processes)
    num_processes: int | None = None
    process_id: int | None = None
    command: str = ""  # the command line, recorded in the outputs

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def check(self) -> None:
        """Every setting, each spec, space and schedule, before any work; ValueError naming the flag."""
        for name in ("trials", "seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.devices is not None and (not isinstance(self.devices, int) or self.devices < 1):
            raise ValueError(f"--devices must be a positive integer, got {self.devices!r}")
        if self.devices not in (None, 1) and self.member_axis == "map":
            raise ValueError(f"--member-axis map runs a sweep's runs one after another on one device; with "
                             f"--devices {self.devices} give --member-axis vmap (or leave it out)")
        self.processes.check()
        if self.member_axis not in (None, "vmap", "map"):
            raise ValueError(f"--member-axis must be vmap or map, got {self.member_axis!r}")
        for name in ("steps", "eval_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if not self.workloads or len(set(self.workloads)) < len(self.workloads):
            raise ValueError(f"--workloads lists a workload twice (or none): {' '.join(self.workloads)}")
        if not self.optimizers or len(set(self.optimizers)) < len(self.optimizers):
            raise ValueError(f"--optimizers lists a spec twice (or none): {' '.join(self.optimizers)}")
        for name in self.workloads:
            workloads.get(name)
            self.schedule_for(name).check()
        self.targets()
        specs.parse_schedule(self.schedule)
        for spec, space in self.spaces().values():
            for trial in spaces.trials(space, self.trials, self.search):
                specs.tunable(spec, trial, None)  # builds: every trial's values in range, required ones given
        root = workloads.data_root(self.data_root)
        workloads.check_data_root(root, sorted({workloads.get(name).dataset for name in self.workloads}))

    def schedule_for(self, name: str):
        workload = workloads.get(name)
        steps = self.steps or workload.steps
        every = self.eval_every or (workload.eval_every if steps % workload.eval_every == 0 else steps)
        schedule = workload.schedule._replace(steps=steps, eval_every=every)
        try:
            schedule.check()
        except ValueError as e:
            raise ValueError(f"workload {name}: {e}; adjust --steps or --eval-every") from None
        return schedule

    def targets(self) -> dict[str, float]:
        """The validation-accuracy target of every workload: its own, or --target's."""
        chosen = {name: workloads.get(name).target for name in self.workloads}
        for entry in self.target:
            name, equals, value = entry.rpartition("=")
            names = [name] if equals else list(self.workloads)
            if equals and name not in chosen:
                raise ValueError(f"--target {entry!r} names {name!r}, which is not in --workloads "
                                 f"({', '.join(self.workloads)})")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not 0 < number <= 1:
                raise ValueError(f"--target {entry!r}: a validation accuracy in (0, 1] (VALUE or WORKLOAD=VALUE)")
            chosen.update(dict.fromkeys(names, number))
        return chosen

    def spaces(self) -> dict[str, tuple[specs.OptimizerSpec, spaces.Space]]:
        """{spec text: (spec, its search space)}: the defaults with --space's overrides."""
        parsed = {text: specs.parse_optimizer(text) for text in self.optimizers}
        overrides: dict[str, dict[str, Any]] = {text: {} for text in self.optimizers}
        for entry in self.space:
            match = re.fullmatch(r"(.+):(\w+)=(.+)", entry.strip())
            if not match:
                raise ValueError(f"bad --space {entry!r}: expected SPEC:KEY=DIST, e.g. "
                                 "optax:adamw:learning_rate=loguniform(1e-4, 1e-2)")
            text, key, dist = match.groups()
            if text not in parsed:
                raise ValueError(f"--space {entry!r} names {text!r}, which is not in --optimizers "
                                 f"({', '.join(self.optimizers)})")
            overrides[text][key] = spaces.parse_dim(key, dist)
        return {text: (spec, spaces.with_overrides(spaces.default_space(spec), overrides[text], spec))
                for text, spec in parsed.items()}

    @property
    def processes(self):
        from jaxdl import parallel

        return parallel.Processes(self.coordinator_address, self.num_processes, self.process_id)

    def to_dict(self) -> dict[str, Any]:
        """Every field but where it ran (results.json's environment says that), and the seed list."""
        placement = ("devices", "coordinator_address", "num_processes", "process_id")
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k not in placement}, "seeds": self.seed_list}


def summarize_arm(spec: specs.OptimizerSpec, space: spaces.Space, trials: list[dict[str, float]], runs: Any,
                  eval_steps: np.ndarray, target: float) -> dict[str, Any]:
    """One optimizer's record on one workload (module docstring): every trial's values and final
    numbers, the selected trial, its intervals and curves, the times to target."""
    val_final = runs.val_accuracy[..., -1]  # [S, K]
    diverged = runs.diverged_at > 0
    best = stats.select_trial(val_final, diverged)
    keep = ~diverged[:, best]
    val_mean, val_half, n = stats.t_interval(val_final[keep, best])
    test_mean, test_half, _ = stats.t_interval(runs.test_accuracy[keep, best])
    steps = stats.steps_to_target(np.where(diverged[..., None], np.nan, runs.val_accuracy), eval_steps, target)
    time_steps = stats.study_time(steps)
    return {
        "optimizer": spec.text, "name": spec.name, "fixed": spec.fixed, "space": [str(dim) for dim in space],
        "trials": trials, "selection_scores": stats.selection_scores(val_final, diverged),
        "selected_trial": best, "selected": trials[best],
        "val_final": val_final, "test_final": runs.test_accuracy, "diverged_at": runs.diverged_at,
        "val_accuracy_mean": val_mean, "val_accuracy_ci": val_half, "seeds_used": n,
        "test_accuracy_mean": test_mean, "test_accuracy_ci": test_half,
        "selected_val_curves": runs.val_accuracy[:, best], "steps_to_target": steps,
        "selected_steps_to_target": steps[:, best],
        "time_to_target_steps": time_steps, "seconds_per_step": runs.seconds_per_step,
        "time_to_target_s": time_steps * runs.seconds_per_step,
        "diverged_runs": int(diverged.sum()),
    }


def profile_summary(result_workloads: list[dict[str, Any]], optimizers: list[str]) -> dict[str, Any]:
    """Performance ratios and scores across workloads, on steps and on wall time to target."""
    out = {"optimizers": optimizers, "workloads": [w["workload"] for w in result_workloads],
           "tau_max": profiles.TAU_MAX}
    for measure in ("steps", "s"):
        times = np.array([[arm[f"time_to_target_{measure}"] for arm in w["arms"]] for w in result_workloads])
        r = profiles.ratios(times)
        out[measure] = {"times": times, "ratios": r, "scores": profiles.scores(r)}
    return out


def sweep_arm(spec: specs.OptimizerSpec, trials: list[dict[str, float]]):
    from jaxdl.compare import sweep

    return sweep.Arm(spec, trials)


def train_and_evaluate(config: Config, workdir: str | os.PathLike) -> dict[str, Any]:
    """Check everything, then per workload load its splits and run its sweep (one compiled program);
    summarize, write leaderboard.md, results.json and the plots into `workdir` as a whole; return the result."""
    from jaxdl import parallel
    from jaxdl.atomic import atomic_folder, check_output_folder, remove_leftovers

    config.check()
    check_output_folder(workdir, EXPERIMENT)
    parallel.initialize(config.processes)
    mesh = parallel.data_mesh(config.devices)
    if mesh.size > 1:
        print(parallel.describe(mesh) + "; each sweep's trials x seeds split over it", flush=True)
    if parallel.is_writer():
        remove_leftovers(workdir)
    arm_spaces = config.spaces()
    arms = [sweep_arm(spec, spaces.trials(space, config.trials, config.search)) for spec, space in arm_spaces.values()]
    schedule_name, schedule_params = specs.parse_schedule(config.schedule)
    targets = config.targets()
    root = workloads.data_root(config.data_root)

    import jax

    from jaxdl import report
    from jaxdl.compare import report as compare_report
    from jaxdl.compare import sweep

    started = time.perf_counter()
    cache: dict[str, Any] = {}
    results = []
    for name in config.workloads:
        workload, schedule = workloads.get(name), config.schedule_for(name)
        splits = workloads.load_splits(workload, root, cache)
        lr_schedule = specs.multiplier(schedule_name, schedule_params, schedule.steps)
        outcome = sweep.run_sweep(workload, splits, arms, config.seed_list, schedule, lr_schedule,
                                  config.member_axis, mesh)
        summaries = [summarize_arm(arm.spec, arm_spaces[arm.spec.text][1], arm.trials, outcome.runs[arm.spec.text],
                                   schedule.eval_steps, targets[name]) for arm in arms]
        results.append({
            "workload": name, "title": workload.title, "dataset": workload.dataset, "target": targets[name],
            "steps": schedule.steps, "eval_every": schedule.eval_every, "batch_size": schedule.batch_size,
            "eval_steps": schedule.eval_steps, "train_size": int(splits.train_images.shape[0]),
            "val_size": int(splits.val_images.shape[0]), "test_size": int(splits.test_images.shape[0]),
            "member_axis": config.member_axis or (workload.member_axis if mesh.size == 1 else "vmap"),
            "compile_s": outcome.compile_s, "run_s": outcome.run_s, "compiles": 1, "arms": summaries,
        })
        print(f"{name}: {len(arms)} optimizers x {config.trials} trials x {config.seeds} seeds in one program: "
              f"compile {outcome.compile_s:.1f} s, run {outcome.run_s:.1f} s", flush=True)
    result = {
        "experiment": EXPERIMENT, "settings": config.to_dict(),
        "schedule": {"name": schedule_name, **schedule_params},
        "split": {"train_pool": workloads.TRAIN_POOL, "validation": [workloads.TRAIN_POOL,
                                                                     workloads.TRAIN_POOL + workloads.VALIDATION]},
        "ci": f"{stats.LEVEL:.0%} Student-t interval of the mean over seeds (ddof = 1)",
        "workloads": results, "profiles": profile_summary(results, list(config.optimizers)),
        "compile_s": sum(w["compile_s"] for w in results), "run_s": sum(w["run_s"] for w in results),
        "wall_s": time.perf_counter() - started,
        "environment": {**report.environment(), "processes": jax.process_count(), "devices": mesh.size},
    }
    if parallel.is_writer():
        with atomic_folder(workdir) as staging:
            compare_report.write_outputs(pathlib.Path(staging), result)
    parallel.sync(f"{EXPERIMENT} outputs written")
    return result
