"""Course 2_6, 2_7 and 2_8: SimpleConvNet, DoubleConvNet and DeepConvNet on MNIST with the book's Adam.

Each network trains with Adam lr 0.001 (the book's, "course:adam") on batches of 100 drawn with
replacement from the first 5000 training images, for the course's step counts (simple 1000,
double 100, deep 1000); every 10 steps it is evaluated on all 5000 training images and on the
first 1000 test images, as the notebooks do (full=True: the whole data set; train_accuracy
"batch": the current batch instead of the training set). DeepConvNet's dropout masks come from
jax.random.key(s). Writes figure_<net>.png, results.json and table.md.
Published (course, single runs on the 1000 test images): SimpleConvNet 0.954-0.961,
DeepConvNet 0.973-0.974.

The seeds of a network run in one compiled program, one after another (seed_axis "map", the
default): vmapping them turns each convolution into a grouped one, which XLA runs several times
slower on CPU; seed_axis "vmap" is there for accelerators.
"""

import dataclasses
import pathlib
from typing import Any, NamedTuple

from jax.sharding import Mesh

import jaxdl.optim
from jaxdl import report
from jaxdl.course.experiment import (
    CourseConfig,
    course_cell,
    divergence,
    divergence_note,
    final_stats,
    load_data,
    run_experiment,
    stats_cell,
    train_each,
)
from jaxdl.models.convnets import CONVNETS, course_init
from jaxdl.nn.dropout import FORMS
from jaxdl.train.grid import SEED_AXES, SeededRuns
from jaxdl.train.run import Data, Schedule
from jaxdl.train.state import Task


class Net(NamedTuple):
    name: str
    title: str
    steps: int  # the notebook's iters_num
    course_test: tuple[float, float] | None  # published single-run test accuracy (course notebooks)


NETS = (
    Net("simple", "SimpleConvNet (2_6)", 1000, (0.954, 0.961)),
    Net("double", "DoubleConvNet (2_7)", 100, None),
    Net("deep", "DeepConvNet (2_8)", 1000, (0.973, 0.974)),
)
BY_NAME = {n.name: n for n in NETS}
COURSE_SLICES = (5000, 1000)  # x_train[:5000], x_test[:1000]
TRAIN_ACCURACY = ("set", "batch")


@dataclasses.dataclass(frozen=True)
class Config(CourseConfig):
    steps: int | None = None  # steps for every net; None: the course's per net
    lr: float = 0.001
    nets: tuple[str, ...] = tuple(BY_NAME)
    full: bool = False  # all 60,000/10,000 images instead of 5000/1000
    train_size: int | None = None  # first N training images (overrides full)
    test_size: int | None = None  # first N test images (overrides full)
    train_accuracy: str = "set"  # "set": the whole training set (the notebooks); "batch": the current batch
    dropout_form: str = "course"  # DeepConvNet's dropout
    seed_axis: str = "map"

    def check(self) -> None:
        super().check()
        for name in ("train_size", "test_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} (--{name.replace('_', '-')}) must be positive, got {value!r}")
        unknown = [name for name in self.nets if name not in BY_NAME]
        if unknown or not self.nets:
            raise ValueError(f"nets (--nets) must name some of {', '.join(BY_NAME)}, got {list(self.nets)}")
        for name, allowed in (("train_accuracy", TRAIN_ACCURACY), ("dropout_form", FORMS), ("seed_axis", SEED_AXES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} (--{name.replace('_', '-')}) must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, name)!r}")
        for net in self.nets:
            self.schedule_for(BY_NAME[net]).check()

    def max_steps(self) -> int:
        return max(self.schedule_for(BY_NAME[net]).steps for net in self.nets)

    def schedule_for(self, net: Net) -> Schedule:
        return Schedule(self.steps or net.steps, self.batch_size, self.eval_every)

    @property
    def slices(self) -> tuple[int | None, int | None]:
        """How many training and test images (from the start) the runs use; None: all."""
        train, test = (None, None) if self.full else COURSE_SLICES
        return self.train_size or train, self.test_size or test


def task_for(net: Net, lr: float, dropout_form: str) -> Task:
    model = CONVNETS[net.name](dropout=dropout_form) if net.name == "deep" else CONVNETS[net.name]()
    return Task(model, jaxdl.optim.create("course:adam", learning_rate=lr), loss="course")


def summarize(config: Config, nets: list[Net], runs: list[SeededRuns], data: Data) -> dict[str, Any]:
    summaries = []
    for net, run in zip(nets, runs, strict=True):
        history, schedule = run.history, config.schedule_for(net)
        train = history.train_accuracy if config.train_accuracy == "set" else history.batch_accuracy
        summaries.append({
            **net._asdict(), "steps": schedule.steps, "eval_steps": schedule.eval_steps,
            "train_accuracy": train, "test_accuracy": history.test_accuracy, "test_loss": history.test_loss,
            "step_loss": history.step_loss,
            **divergence(net.title, run.diverged_at),
            **final_stats(train, "train_accuracy", run.diverged_at),
            **final_stats(history.test_accuracy, "test_accuracy", run.diverged_at),
            "compile_s": run.compile_s, "run_s": run.run_s,
        })
    return {
        "experiment": "convnets",
        "settings": {**config.to_dict(), "optimizer": f"course:adam lr {config.lr}",
                     "train_size": int(data.train_images.shape[0]), "test_size": int(data.test_images.shape[0]),
                     "loss": "course softmax cross-entropy"},
        "runs": summaries,
        "compile_s": sum(r["compile_s"] for r in summaries), "run_s": sum(r["run_s"] for r in summaries),
    }


def write_outputs(workdir: pathlib.Path, result: dict[str, Any]) -> None:
    from jaxdl.report import figures  # matplotlib loads only when figures are drawn

    workdir.mkdir(parents=True, exist_ok=True)
    settings = result["settings"]
    seeds = len(settings["seeds"])
    train_label = (f"train ({settings['train_size']} images)" if settings["train_accuracy"] == "set"
                   else "train (batch)")
    test_label = f"test ({settings['test_size']} images)"
    for r in result["runs"]:
        figures.panel_grid([(f"{r['title']} ({r['final_test_accuracy_mean']:.3f}){divergence_note(r)}",
                             {train_label: r["train_accuracy"], test_label: r["test_accuracy"]})],
                           r["eval_steps"], workdir / f"figure_{r['name']}.png", columns=1)
    rows = [(r["title"], r["steps"], stats_cell(r, "final_train_accuracy", seeds),
             stats_cell(r, "final_test_accuracy", seeds), course_cell(r["course_test"])) for r in result["runs"]]
    table = report.markdown_table(["network", "steps", f"{train_label} accuracy ({seeds} seeds)",
                                   f"{test_label} accuracy", "course test (single runs)"], rows)
    report.write_results(workdir, table, result)


def train_and_evaluate(config: Config, workdir: str | pathlib.Path) -> dict[str, Any]:
    """Train each of `config.nets` on every seed (one program per net); write figure_<net>.png,
    table.md and results.json into `workdir`; return the result."""
    def train(data: Data, mesh: Mesh) -> dict[str, Any]:
        nets = [BY_NAME[name] for name in config.nets]
        runs = train_each(config, data, [(net.title, task_for(net, config.lr, config.dropout_form),
                                          config.schedule_for(net)) for net in nets], course_init,
                          eval_train=config.train_accuracy == "set", seed_axis=config.seed_axis, mesh=mesh)
        return summarize(config, nets, runs, data)

    return run_experiment("convnets", config, workdir, lambda: load_data(config, *config.slices), train, write_outputs)
