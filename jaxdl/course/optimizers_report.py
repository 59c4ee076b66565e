"""Outputs of jaxdl.course.optimizers: table.md, accuracy.png, loss.png, lr_sweep.png, results.json."""

import pathlib

import numpy as np
from matplotlib.figure import Figure

from jaxdl import report
from jaxdl.atomic import atomic_write
from jaxdl.course.experiment import course_cell, divergence_note
from jaxdl.report import figures


def write_outputs(out: pathlib.Path, result: dict) -> None:
    """Write every output of `result` (as jaxdl.course.optimizers.train_and_evaluate builds it) into `out`
    and print the table."""
    out.mkdir(parents=True, exist_ok=True)
    runs, steps = result["runs"], result["eval_steps"]
    accuracy = [(f"{r['optimizer']} ({r['final_test_accuracy_median']:.3f})",
                 {"training set (batch)": r["batch_accuracy"], "test set": r["test_accuracy"]}) for r in runs]
    accuracy.append(("test set, every optimizer", {r["optimizer"]: r["test_accuracy"] for r in runs}))
    figures.panel_grid(accuracy, steps, out / "accuracy.png", columns=3)
    loss = [(r["optimizer"], {"training set (batch)": r["batch_loss"], "test set": r["test_loss"]}) for r in runs]
    loss.append(("test set, every optimizer", {r["optimizer"]: r["test_loss"] for r in runs}))
    figures.panel_grid(loss, steps, out / "loss.png", columns=3, ylabel="loss", ylim=None, legend="upper right")
    text = comparison_table(result)
    if "lr_sweep" in result:
        sweep_figure(result["lr_sweep"], out / "lr_sweep.png")
        text += "\n" + sweep_table(result["lr_sweep"])
    with atomic_write(out / "table.md", "w") as f:
        f.write(text)
    report.write_json(out / "results.json", result)
    print(text)
    print(f"data {result['load_s']:.2f} s, total {result['wall_s']:.2f} s")


def comparison_table(result: dict) -> str:
    """Final test accuracy (median [min, max] over seeds), steps to the target, course numbers, times, formulas."""
    settings = result["settings"]
    seeds = len(settings["seeds"])
    rows = []
    for r in result["runs"]:
        reached = [s for s in r["steps_to_target"] if s is not None]
        to_target = f"{int(np.median(reached))} ({len(reached)}/{seeds} seeds)" if reached else "never"
        course = course_cell(r["course"], ".4g")
        if np.isfinite(r["final_test_accuracy_median"]):
            final = (f"{r['final_test_accuracy_median']:.3f} [{r['final_test_accuracy_min']:.3f}, "
                     f"{r['final_test_accuracy_max']:.3f}]{divergence_note(r)}")
        else:
            final = f"diverged at step {min(step for step in r['diverged_at_step'] if step)}"
        rows.append((r["optimizer"], final, to_target, course))
    table = report.markdown_table(
        ["optimizer", f"final test accuracy, median [min, max] of {seeds} seeds",
         f"steps to test accuracy >= {settings['target']:g} (median)", "course 2_4 (single runs)"], rows)
    timing = (f"One compiled program for {len(rows)} optimizers x {seeds} seeds: compile {result['compile_s']:.1f} s, "
              f"run {result['run_s']:.1f} s ({result['environment']['device']}).\n")
    formulas = "".join(f"- {r['formula']}\n" for r in result["runs"])
    return f"{table}\n{timing}\nUpdate rules:\n{formulas}"


def median_range(final: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, min and max over seeds (axis 0) of the finite entries; NaN where every seed diverged."""
    columns = [column[np.isfinite(column)] for column in np.asarray(final, np.float64).T]
    stats = [(np.median(c), c.min(), c.max()) if c.size else (np.nan,) * 3 for c in columns]
    return tuple(np.array(values) for values in zip(*stats, strict=False))


def sweep_table(sweep: dict) -> str:
    """One row per optimizer: median final test accuracy per learning rate, with diverged seeds counted."""
    rows = []
    for r in sweep["runs"]:
        median, _, _ = median_range(r["final_test_accuracy"])
        diverged = np.asarray(r["diverged"]).sum(axis=0)
        seeds = len(r["diverged"])
        cells = ["diverged" if d == seeds else f"{m:.3f}" + (f" ({d}/{seeds} diverged)" if d else "")
                 for m, d in zip(median, diverged, strict=False)]
        rows.append((r["optimizer"], *cells))
    table = report.markdown_table(["optimizer", *(f"{lr:.3g}" for lr in sweep["learning_rates"])], rows)
    return (f"Learning-rate sweep, final test accuracy (median of seeds):\n\n{table}\n"
            f"One compiled program: compile {sweep['compile_s']:.1f} s, run {sweep['run_s']:.1f} s.\n")


def sweep_figure(sweep: dict, path: pathlib.Path) -> None:
    """Final test accuracy against learning rate (log axis): median line, min-max band over seeds;
    an x at 0 marks rates where some seed diverged."""
    rates = np.asarray(sweep["learning_rates"])
    figure = Figure(figsize=(8.5, 4.5))
    axes = figure.add_subplot(1, 1, 1)
    for r in sweep["runs"]:
        median, low, high = median_range(r["final_test_accuracy"])
        line, = axes.plot(rates, median, marker="o", markersize=3, label=r["optimizer"])
        axes.fill_between(rates, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        diverged = np.asarray(r["diverged"]).any(axis=0)
        axes.plot(rates[diverged], np.zeros(diverged.sum()), "x", color=line.get_color())
    axes.set_xscale("log")
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel("learning rate")
    axes.set_ylabel("final test accuracy")
    axes.set_title(f"learning-rate sweep ({len(sweep['runs'][0]['diverged'])} seeds; x: a seed diverged)",
                   fontsize=9)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=110)
