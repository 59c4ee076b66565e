"""The comparison's outputs: leaderboard.md, results.json and PNG plots (written by the caller atomically).

    leaderboard.md        per workload the selected trial of each optimizer (ranked by test accuracy),
                          then the performance-profile scores across workloads
    results.json          settings, every trial's values and final numbers, curves, timings, environment
    curves_<w>.png        validation accuracy of each optimizer's selected trial: mean over seeds, min-max band
    sensitivity_<w>.png   final validation accuracy (mean over seeds) of every trial against its learning rate
    profile.png           performance profiles rho(tau) on steps to target
"""

import math
import pathlib
from typing import Any

import numpy as np

from jaxdl.compare import profiles
from jaxdl.report import markdown_table, write_json


def ci_cell(mean: float, half: float, n: int) -> str:
    """'mean ± half (n seeds)'; '-' without finite runs; the mean alone for one seed."""
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(half):
        return f"{mean:.4f} (n={n})"
    return f"{mean:.4f} ± {half:.4f}"


def time_cell(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "not reached"
    return f"{value:.0f}" if unit == "steps" else f"{value:.2f} s"


def hparams_cell(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()) or "-"


def leaderboard(result: dict[str, Any]) -> str:
    """The markdown leaderboard of a comparison's result."""
    settings = result["settings"]
    lines = ["# Optimizer comparison", ""]
    if settings.get("command"):
        lines += ["Produced by:", "", "    " + settings["command"], ""]
    lines += [f"{settings['trials']} trials ({settings['search']}) x {len(settings['seeds'])} seeds per optimizer; "
              f"learning-rate schedule {settings['schedule']}. Selection: the trial with the best mean final "
              f"validation accuracy; reported on test. Intervals: {result['ci']}. Steps to target (AlgoPerf): "
              "per seed the fastest trial to reach the validation target, median over seeds; wall time: those "
              "steps x the sweep's seconds per step for that optimizer.", ""]
    for w in result["workloads"]:
        lines += [f"## {w['workload']}: {w['title']}", "",
                  f"{w['steps']} steps of batch {w['batch_size']} on {w['train_size']} training images; "
                  f"validation {w['val_size']} images, test {w['test_size']}; target {w['target']} validation "
                  f"accuracy. One compiled program: compile {w['compile_s']:.1f} s, run {w['run_s']:.1f} s.", ""]
        arms = sorted(w["arms"], key=lambda a: -np.nan_to_num(a["test_accuracy_mean"], nan=-1.0))
        rows = [(rank, f"`{a['optimizer']}`", hparams_cell(a["selected"]),
                 ci_cell(a["val_accuracy_mean"], a["val_accuracy_ci"], a["seeds_used"]),
                 ci_cell(a["test_accuracy_mean"], a["test_accuracy_ci"], a["seeds_used"]),
                 time_cell(a["time_to_target_steps"], "steps"), time_cell(a["time_to_target_s"], "s"),
                 f"{a['diverged_runs']}/{np.asarray(a['diverged_at']).size}")
                for rank, a in enumerate(arms, start=1)]
        lines.append(markdown_table(["#", "optimizer", "selected hyperparameters", "validation accuracy (95% CI)",
                                     "test accuracy (95% CI)", "steps to target", "wall time to target",
                                     "diverged runs"], rows))
    prof = result["profiles"]
    lines += [f"## Performance profiles across {len(prof['workloads'])} workloads", "",
              f"AlgoPerf score: area under the profile from tau = 1 to {prof['tau_max']:g}, normalized "
              "(1 = fastest to target on every workload, 0 = never within a factor 4 of the fastest).", ""]
    rows = [(f"`{name}`", f"{prof['steps']['scores'][i]:.3f}", f"{prof['s']['scores'][i]:.3f}",
             f"{int(np.isfinite(np.asarray(prof['steps']['times'])[:, i]).sum())}/{len(prof['workloads'])}")
            for i, name in enumerate(prof["optimizers"])]
    lines.append(markdown_table(["optimizer", "score (steps)", "score (wall time)", "workloads reached"], rows))
    return "\n".join(lines)


def write_outputs(folder: pathlib.Path, result: dict[str, Any]) -> None:
    """leaderboard.md, results.json and the plots into `folder`; the leaderboard also on stdout."""
    from jaxdl.atomic import atomic_write

    text = leaderboard(result)
    with atomic_write(folder / "leaderboard.md", "w") as f:
        f.write(text)
    write_json(folder / "results.json", result)
    draw(folder, result)
    print(text, flush=True)


def draw(folder: pathlib.Path, result: dict[str, Any]) -> None:
    from matplotlib.figure import Figure

    from jaxdl.atomic import atomic_write
    from jaxdl.report import figures  # matplotlib loads only now

    def save(figure: Figure, name: str) -> None:
        figure.tight_layout()
        with atomic_write(folder / name) as f:
            figure.savefig(f, format="png", dpi=110)

    for w in result["workloads"]:
        figure = Figure(figsize=(6.5, 4.2))
        axes = figure.add_subplot(1, 1, 1)
        for a in w["arms"]:
            figures.band(axes, np.asarray(w["eval_steps"]), np.asarray(a["selected_val_curves"]),
                         f"{a['optimizer']} ({hparams_cell(a['selected'])})")
        axes.axhline(w["target"], color="gray", linestyle=":", linewidth=1)
        axes.set(title=f"{w['workload']}: selected trials, validation accuracy (band: seeds' min-max)",
                 xlabel="step", ylabel="validation accuracy")
        low = min(np.nanmin(np.asarray(a["selected_val_curves"], np.float64)) for a in w["arms"])
        axes.set_ylim(max(0.0, low if np.isfinite(low) else 0.0), 1.0)
        axes.legend(fontsize=7, loc="lower right")
        axes.grid(alpha=0.3)
        axes.title.set_fontsize(9)
        save(figure, f"curves_{w['workload']}.png")

        figure = Figure(figsize=(6.5, 4.2))
        axes = figure.add_subplot(1, 1, 1)
        for a in w["arms"]:
            rates = [t.get("learning_rate") for t in a["trials"]]
            if None in rates:
                continue
            order = np.argsort(rates)
            mean = np.nanmean(np.where(np.asarray(a["diverged_at"]) > 0, np.nan, np.asarray(a["val_final"])), 0)
            axes.plot(np.asarray(rates)[order], mean[order], marker="o", label=a["optimizer"])
        axes.set(xscale="log", xlabel="learning rate (peak)", ylabel="final validation accuracy (seed mean)",
                 title=f"{w['workload']}: sensitivity (every trial)", ylim=(0.0, 1.0))
        axes.legend(fontsize=7)
        axes.grid(alpha=0.3)
        save(figure, f"sensitivity_{w['workload']}.png")

    prof = result["profiles"]
    taus = np.linspace(1.0, prof["tau_max"], 301)
    rho = profiles.profile(np.asarray(prof["steps"]["ratios"], np.float64), taus)
    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot(1, 1, 1)
    for i, name in enumerate(prof["optimizers"]):
        axes.step(taus, rho[:, i], where="post", label=f"{name} (score {prof['steps']['scores'][i]:.2f})")
    axes.set(xlabel="tau (steps to target / fastest)", ylabel="fraction of workloads",
             title=f"performance profiles on {len(prof['workloads'])} workloads", ylim=(-0.02, 1.02))
    axes.legend(fontsize=7, loc="lower right")
    axes.grid(alpha=0.3)
    save(figure, "profile.png")
