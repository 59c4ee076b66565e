"""The benchmark's outputs: benchmark.md, the plots, and `compare` of two benchmark.json files.

Standard library and matplotlib only (no JAX): `compare` runs anywhere the JSON files are.
"""

import math
import os
from collections.abc import Sequence
from typing import Any

from jaxdl.atomic import atomic_write

REQUIRED_KEYS = ("model", "batch_size", "dtype", "devices", "device_kind", "compile_s", "step_time_s",
                 "step_time_p10_s", "step_time_p90_s", "images_per_s", "model_flops_per_step", "xla_flops_per_step",
                 "achieved_flops_per_s", "peak_flops_per_s", "peak_source", "mfu", "peak_memory_bytes")
CELL_KEY = ("model", "batch_size", "dtype", "devices")  # what identifies a cell across files
COMPARED = (("images_per_s", "img/s"), ("step_time_s", "step ms"), ("mfu", "MFU"), ("compile_s", "compile s"))


def cell_id(entry: dict[str, Any]) -> tuple:
    return tuple(entry[key] for key in CELL_KEY)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    """benchmark.md: the machine, how the figures were taken, and one table row per cell."""
    meta = result["metadata"]
    peak_source = result["cells"][0]["peak_source"] if result["cells"] else "-"
    lines = [f"# Benchmark: {meta['device_kind']} x {meta['device_count']} ({meta['platform']}), "
             f"{meta['cpu_model']}", "",
             f"jax {meta['jax']}, jaxlib {meta['jaxlib']}, flax {meta['flax']}; XLA_FLAGS={meta['xla_flags'] or '-'}; "
             f"{meta['warmup']} warm-up + {meta['steps']} timed steps, each blocked on (step time = dispatch to "
             "outputs ready); batch size is per device, global = per device x devices.", "",
             "MFU = model FLOPs per step (convolutions and matmuls, forward + backward, multiply-add = 2) / step "
             f"time / (peak per device x devices). Peak: {peak_source}.",
             "",
             "| model | dtype | batch/dev | devices | img/s | img/s/dev | step ms p50 [p10, p90] | GFLOP/img model "
             "(XLA) | TFLOP/s | MFU | compile s cold / warm | memory MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in result["cells"]:
        lines.append(
            f"| {c['model']} | {c['dtype']} | {c['batch_size']} | {c['devices']} | {_fmt(c['images_per_s'])} | "
            f"{_fmt(c['images_per_s_per_device'])} | {c['step_time_s'] * 1e3:.1f} [{c['step_time_p10_s'] * 1e3:.1f}, "
            f"{c['step_time_p90_s'] * 1e3:.1f}] | {c['model_flops_per_step'] / c['global_batch_size'] / 1e9:.4g} "
            f"({c['xla_flops_per_step'] / c['global_batch_size'] / 1e9:.4g}) | "
            f"{c['achieved_flops_per_s'] / 1e12:.4g} | {_fmt(c['mfu'] and 100 * c['mfu'])}% | "
            f"{c['compile_s']:.2f} / {c['warm_compile_s']:.2f} | "
            f"{_fmt(c['peak_memory_bytes'] and c['peak_memory_bytes'] / 2**20, 1)} |")
    piped = [c for c in result["cells"] if c.get("input") == "pipeline"]
    if piped:
        lines += ["", "Input pipeline (train_imagenet's image-list path: decode, crop, flip, mean):", "",
                  "| model | dtype | batch/dev | synthetic img/s | pipeline img/s | input-bound |",
                  "|---|---|---|---|---|---|"]
        for c in piped:
            lines.append(f"| {c['model']} | {c['dtype']} | {c['batch_size']} | {_fmt(c['images_per_s'])} | "
                         f"{_fmt(c['pipeline_images_per_s'])} | {'yes' if c['input_bound'] else 'no'} |")
    loader = result.get("pipeline")
    if loader:
        lines += ["", f"Loader alone: {loader['verdict']}", "",
                  "| kind | workers | decoded img/s | img/s per core |", "|---|---|---|---|"]
        for row in loader["measurements"]:
            lines.append(f"| {row['kind']} | {row['workers']} | {row['images_per_s']:.1f} | "
                         f"{row['images_per_s_per_core']:.1f} |")
    torch = result.get("torch")
    if torch:
        lines += ["", f"PyTorch side by side ({torch.get('note', '')}):", "",
                  "| model | batch | framework | img/s | jaxdl / this |", "|---|---|---|---|---|"]
        for row in torch.get("rows", []):
            lines.append(f"| {row['model']} | {row['batch_size']} | {row['framework']} | {_fmt(row['images_per_s'])} | "
                         f"{_fmt(row.get('jaxdl_speedup'), 2)} |")
    return "\n".join(lines) + "\n"


def scaling_efficiency(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, dtype, batch per device) with a 1-device cell: img/s(n) / (n * img/s(1)) for each n."""
    ones = {(c["model"], c["dtype"], c["batch_size"]): c["images_per_s"] for c in cells if c["devices"] == 1}
    rows = []
    for c in cells:
        base = ones.get((c["model"], c["dtype"], c["batch_size"]))
        if base:
            rows.append({"model": c["model"], "dtype": c["dtype"], "batch_size": c["batch_size"],
                         "devices": c["devices"], "efficiency": c["images_per_s"] / (c["devices"] * base)})
    return rows


def plots(result: dict[str, Any], out: str | os.PathLike) -> list[str]:
    """throughput.png (img/s against per-device batch size, a line per model and dtype, fewest devices)
    and, with more than one device count, scaling.png (efficiency against devices). Returns the names."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cells = result["cells"]
    written = []
    fewest = min(c["devices"] for c in cells)
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for model in dict.fromkeys(c["model"] for c in cells):
        for dtype in dict.fromkeys(c["dtype"] for c in cells):
            points = sorted((c["batch_size"], c["images_per_s"]) for c in cells
                            if c["model"] == model and c["dtype"] == dtype and c["devices"] == fewest)
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=f"{model} {dtype}")
    axes.set(xscale="log", yscale="log", xlabel="batch size per device", ylabel="images/s",
             title=f"{cells[0]['device_kind']} x {fewest}")
    axes.legend(fontsize=7)
    with atomic_write(os.path.join(out, "throughput.png")) as f:
        figure.savefig(f, format="png", dpi=100, bbox_inches="tight")
    written.append("throughput.png")
    if len({c["devices"] for c in cells}) > 1:
        figure = Figure(figsize=(6, 4))
        axes = figure.subplots()
        rows = scaling_efficiency(cells)
        for key in dict.fromkeys((r["model"], r["dtype"], r["batch_size"]) for r in rows):
            points = sorted((r["devices"], r["efficiency"]) for r in rows
                            if (r["model"], r["dtype"], r["batch_size"]) == key)
            axes.plot(*zip(*points, strict=True), marker="o", label=f"{key[0]} {key[1]} b{key[2]}/dev")
        axes.axhline(1.0, color="grey", lw=0.5)
        axes.set(xlabel="devices", ylabel="scaling efficiency (img/s / (n x img/s on 1))",
                 title=f"data parallel, {cells[0]['device_kind']}")
        axes.legend(fontsize=7)
        with atomic_write(os.path.join(out, "scaling.png")) as f:
            figure.savefig(f, format="png", dpi=100, bbox_inches="tight")
        written.append("scaling.png")
    return written


def compare(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")) -> tuple[str, list[dict]]:
    """(a markdown table, rows): the cells both files hold, side by side, with B / A ratios of
    img/s, step time, MFU and compile time (a ratio > 1 in img/s means B is faster)."""
    by_id = {cell_id(c): c for c in b["cells"]}
    rows = []
    for cell in a["cells"]:
        other = by_id.get(cell_id(cell))
        if other is None:
            continue
        row = dict(zip(CELL_KEY, cell_id(cell), strict=True))
        for key, _ in COMPARED:
            x, y = cell.get(key), other.get(key)
            row[f"{key}_a"], row[f"{key}_b"] = x, y
            row[f"{key}_ratio"] = y / x if x and y is not None else None
        rows.append(row)
    machines = [f"{names[i]}: {r['metadata']['device_kind']} x {r['metadata']['device_count']}, "
                f"{r['metadata']['cpu_model']}" for i, r in enumerate((a, b))]
    header = "| model | dtype | batch | devices | " + " | ".join(
        f"{label} A | {label} B | B/A" for _, label in COMPARED) + " |"
    lines = [*machines, "", header, "|" + "---|" * (4 + 3 * len(COMPARED))]
    for row in rows:
        cells = [str(row[k]) for k in ("model", "dtype", "batch_size", "devices")]
        for key, _ in COMPARED:
            scale = 1e3 if key == "step_time_s" else 1
            a_value, b_value = row[f"{key}_a"], row[f"{key}_b"]
            cells += [_fmt(a_value and a_value * scale, 3), _fmt(b_value and b_value * scale, 3),
                      _fmt(row[f"{key}_ratio"], 2)]
        lines.append("| " + " | ".join(cells) + " |")
    if not rows:
        lines.append("(no cell is in both files)")
    return "\n".join(lines) + "\n", rows
