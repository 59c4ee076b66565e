"""jaxdl.compare and `python -m experiments.compare_optimizers`: a sweep's trials against the same runs
done one by one, selection on validation only, confidence intervals and performance profiles against
hand-computed values, every optax alias building and stepping, user factories, schedules, errors."""

import json
import math
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import compare_optimizers as cli_module
from jaxdl import cli, optim
from jaxdl.compare import experiment, profiles, spaces, specs, stats, sweep, workloads
from jaxdl.data.sampling import course_indices
from jaxdl.models.mlp import MultiLayerNet, course_init
from jaxdl.train.run import Data, make_run
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import make_eval_step
from tests.conftest import PNG

# --- a small workload on synthetic data -------------------------------------------------------------


def small_workload(steps: int = 20) -> workloads.Workload:
    return workloads.Workload("tiny", "tiny", "mnist", lambda: MultiLayerNet(12, (8,), 10, activation="sigmoid",
                                                                             weight_init=0.5),
                              course_init, 200, 60, 16, steps, 10, 0.3)


def small_splits() -> workloads.Splits:
    rng = np.random.RandomState(7)
    centers = rng.randn(10, 12).astype(np.float32)

    def draw(n):
        labels = rng.randint(0, 10, n).astype(np.int32)
        return (centers[labels] + 0.8 * rng.randn(n, 12)).astype(np.float32), labels

    return workloads.Splits(*draw(200), *draw(60), *draw(50))


def run_one(model, optimizer, seed, schedule, splits):
    """The course's loop for one seed, done alone: RandomState(seed) draws the weights then the batches."""
    task = Task(model, optimizer, loss="course")
    rng = np.random.RandomState(seed)
    variables = course_init(model, rng)
    indices = course_indices(rng, schedule.steps, splits.train_images.shape[0], schedule.batch_size)
    state = task.state_from(variables, jax.random.key(seed))
    data = Data(jnp.asarray(splits.train_images), jnp.asarray(splits.train_labels),
                jnp.asarray(splits.val_images), jnp.asarray(splits.val_labels))
    final, history = jax.jit(make_run(task, schedule))(state, jnp.asarray(indices), data)
    tested = make_eval_step(task)(final, Batch(jnp.asarray(splits.test_images), jnp.asarray(splits.test_labels)))
    return history, tested


SEEDS = [3, 4]


@pytest.fixture(scope="module")
def sweep_setup():
    """Two optimizers x 2 trials x 2 seeds with a warmup-cosine schedule, and each of those 8 runs done
    alone with optax's own schedule and the optimizer built directly with the trial's values."""
    workload, splits = small_workload(), small_splits()
    schedule = workload.schedule
    name, params = specs.parse_schedule("warmup_cosine(warmup=0.1, alpha=0.2)")
    multiplier = specs.multiplier(name, params, schedule.steps)
    adamw = specs.parse_optimizer("optax:adamw(b2=0.99)")
    momentum = specs.parse_optimizer("chainer:momentum")
    arms = [sweep.Arm(adamw, [{"learning_rate": 0.05, "weight_decay": 0.01}, {"learning_rate": 0.01,
                                                                               "weight_decay": 0.1}]),
            sweep.Arm(momentum, [{"learning_rate": 0.5, "momentum": 0.9}, {"learning_rate": 2.0, "momentum": 0.5}])]

    def lr(peak):  # optax's warmup cosine: 0 -> peak over 2 steps, cosine to 0.2 * peak at step 20
        return optax.warmup_cosine_decay_schedule(0.0, peak, 2, schedule.steps, end_value=0.2 * peak)

    builders = {adamw.text: lambda t: optax.adamw(lr(t["learning_rate"]), b2=0.99, weight_decay=t["weight_decay"]),
                momentum.text: lambda t: optim.create("chainer:momentum", inject=True,
                                                      learning_rate=lr(t["learning_rate"]), momentum=t["momentum"])}
    alone = {(arm.spec.text, k, s): run_one(workload.model(), builders[arm.spec.text](trial), seed, schedule, splits)
             for arm in arms for k, trial in enumerate(arm.trials) for s, seed in enumerate(SEEDS)}
    return workload, splits, arms, multiplier, alone


@pytest.mark.parametrize("member_axis", ["vmap", "map"])
def test_sweep_trials_equal_the_same_runs_done_one_by_one(sweep_setup, member_axis):
    """The whole sweep in one program (runs batched, or one after another) gives each run done alone."""
    workload, splits, arms, multiplier, alone = sweep_setup
    result = sweep.run_sweep(workload, splits, arms, SEEDS, workload.schedule, multiplier, member_axis)
    for arm in arms:
        runs = result.runs[arm.spec.text]
        assert runs.val_accuracy.shape == (2, 2, 2) and runs.test_accuracy.shape == (2, 2)
        assert runs.diverged_at.shape == (2, 2) and runs.seconds_per_step > 0
        for (text, k, s), (history, tested) in alone.items():
            if text != arm.spec.text:
                continue
            np.testing.assert_allclose(runs.step_loss[s, k], history.step_loss, rtol=2e-5, atol=1e-6)
            np.testing.assert_allclose(runs.val_loss[s, k], history.test_loss, rtol=2e-5, atol=1e-6)
            np.testing.assert_allclose(runs.val_accuracy[s, k], history.test_accuracy, atol=1.5 / 60)
            np.testing.assert_allclose(runs.test_loss[s, k], tested["loss"], rtol=2e-5, atol=1e-6)
            np.testing.assert_allclose(runs.test_accuracy[s, k], tested["accuracy"], atol=1.5 / 50)


def fake_runs(val_final: np.ndarray, test_final: np.ndarray) -> sweep.ArmRuns:
    seeds, trials = val_final.shape
    curves = np.stack([val_final / 2, val_final], -1)
    return sweep.ArmRuns(curves, -curves, np.zeros((seeds, trials, 4)), test_final, -test_final,
                         np.zeros((seeds, trials), int), 0.5)


def test_selection_uses_validation_only():
    """Validation says trial 1, test says trial 0: the selected trial, and the test numbers reported, are trial 1's;
    changing the test numbers changes nothing but the reported test numbers."""
    val = np.array([[0.80, 0.90, 0.70], [0.82, 0.88, 0.72]])
    test = np.array([[0.99, 0.60, 0.98], [0.97, 0.62, 0.99]])
    spec = specs.parse_optimizer("course:adam")
    trials = [{"learning_rate": v} for v in (0.1, 0.01, 0.001)]
    summary = experiment.summarize_arm(spec, (), trials, fake_runs(val, test), np.array([5, 10]), 0.85)
    assert summary["selected_trial"] == 1 and summary["selected"] == {"learning_rate": 0.01}
    assert summary["test_accuracy_mean"] == pytest.approx(0.61)
    shuffled = experiment.summarize_arm(spec, (), trials, fake_runs(val, test[:, ::-1].copy()), np.array([5, 10]),
                                        0.85)
    assert shuffled["selected_trial"] == 1 and shuffled["val_accuracy_mean"] == summary["val_accuracy_mean"]
    assert stats.select_trial(val, np.zeros_like(val, bool)) == 1
    diverged = np.array([[False, True, False], [False, False, False]])  # trial 1 diverged once: 0 for that seed
    assert stats.select_trial(val, diverged) == 0


def test_t_interval_matches_the_hand_computed_value():
    # [0.90, 0.92, 0.94]: mean 0.92, s = 0.02, t_{0.975, 2} = 4.302652729911275 (tables) -> 0.02 * 4.3027 / sqrt(3)
    mean, half, n = stats.t_interval(np.array([0.90, 0.92, 0.94]))
    assert (mean, n) == (pytest.approx(0.92), 3) and half == pytest.approx(4.302652729911275 * 0.02 / math.sqrt(3))
    # five values, t_{0.975, 4} = 2.7764451051977987; NaN (a diverged seed) is left out
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    mean, half, n = stats.t_interval(values)
    assert (mean, n) == (3.0, 5) and half == pytest.approx(2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5))
    assert math.isnan(stats.t_interval(np.array([0.5]))[1]) and stats.t_interval(np.array([np.nan]))[2] == 0


def test_steps_to_target_and_study_time_follow_algoperf():
    curves = np.array([[[0.1, 0.5, 0.9], [0.6, 0.7, 0.8]],  # seed 0: trial 0 at step 30, trial 1 at 10
                       [[0.2, 0.3, 0.4], [np.nan, 0.9, 0.9]]])  # seed 1: never, trial 1 at 20
    steps = stats.steps_to_target(curves, np.array([10, 20, 30]), 0.55)
    np.testing.assert_array_equal(steps, [[30, 10], [np.inf, 20]])
    assert stats.study_time(steps) == 15.0  # fastest per seed: 10 and 20; median 15
    assert stats.study_time(np.array([[np.inf], [np.inf], [5.0]])) == np.inf


def test_performance_profiles_and_scores_match_hand_computed_values():
    times = np.array([[10.0, 20.0, np.inf], [30.0, 15.0, 60.0], [np.inf, np.inf, np.inf]])
    r = profiles.ratios(times)
    np.testing.assert_array_equal(r, [[1, 2, np.inf], [2, 1, 4], [np.inf, np.inf, np.inf]])
    np.testing.assert_allclose(profiles.profile(r, np.array([1.0, 2.0, 4.0])),
                               [[1 / 3, 1 / 3, 0], [2 / 3, 2 / 3, 0], [2 / 3, 2 / 3, 1 / 3]])
    # B = mean over workloads of max(0, 4 - r) / 3: (3/3 + 2/3 + 0) / 3 for the first two, (0 + 0 + 0) / 3
    np.testing.assert_allclose(profiles.scores(r), [5 / 9, 5 / 9, 0.0])
    taus = np.linspace(1, 4, 30001)  # and the area under the profile, summed on a fine grid
    rho = profiles.profile(r, taus)
    np.testing.assert_allclose(rho[:-1].sum(0) * (taus[1] - taus[0]) / 3, profiles.scores(r), atol=1e-3)


def test_halton_and_grid_points():
    np.testing.assert_allclose(spaces.halton(4, 2), [[1 / 2, 1 / 3], [1 / 4, 2 / 3], [3 / 4, 1 / 9], [1 / 8, 4 / 9]])
    dim = spaces.Dim("learning_rate", "loguniform", 1e-4, 1e-2)
    assert dim.value(0.5) == pytest.approx(1e-3)
    assert spaces.Dim("momentum", "one_minus_loguniform", 0.01, 0.1).value(0.0) == pytest.approx(0.99)
    grid = spaces.trials((dim, spaces.Dim("x", "uniform", 0.0, 1.0)), 4, "grid")
    assert [(pytest.approx(t["learning_rate"]), t["x"]) for t in grid] == [
        (1e-4, 0.0), (1e-4, 1.0), (1e-2, 0.0), (1e-2, 1.0)]
    with pytest.raises(ValueError, match="power"):
        spaces.trials((dim, dim._replace(name="y")), 5, "grid")


@pytest.mark.parametrize("name", specs.OPTAX_ALIASES)
def test_every_optax_alias_builds_and_steps_as_optax_does(name):
    """optax:NAME with its default search space: a trial's values set in the state give the update of
    optax's own alias built with those values (first step), and a second step stays finite."""
    params = {"w": jnp.asarray(np.random.RandomState(0).randn(4, 3), jnp.float32), "b": jnp.zeros(3)}
    grads = jax.tree.map(lambda p: 0.3 + 0.1 * p, params)
    spec = specs.parse_optimizer(f"optax:{name}")
    trials = spaces.trials(spaces.default_space(spec), 2)
    assert "learning_rate" in trials[0]
    tx = specs.tunable(spec, trials[0], specs.multiplier("constant", {}, 10))
    state = specs.set_trial(tx.init(params), trials[1])
    updates, state = jax.jit(tx.update)(grads, state, params)
    reference = getattr(optax, name)(**trials[1])
    expected, _ = reference.update(grads, reference.init(params), params)
    for got, want in zip(jax.tree.leaves(updates), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    updates, _ = jax.jit(tx.update)(grads, state, optax.apply_updates(params, updates))
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(updates))


def test_inline_hyperparameters_are_fixed_and_not_searched():
    spec = specs.parse_optimizer("optax:sgd(momentum=0.9, nesterov=True)")
    assert spec.fixed == {"momentum": 0.9, "nesterov": True}
    assert [dim.name for dim in spaces.default_space(spec)] == ["learning_rate"]
    params = {"w": jnp.ones(3)}
    tx = specs.tunable(spec, {"learning_rate": 0.1}, specs.multiplier("constant", {}, 10))
    state = specs.set_trial(tx.init(params), {"learning_rate": 0.2})
    reference = optax.sgd(0.2, momentum=0.9, nesterov=True)
    ref_state = reference.init(params)
    for _ in range(2):
        updates, state = tx.update({"w": jnp.full(3, 0.5)}, state)
        expected, ref_state = reference.update({"w": jnp.full(3, 0.5)}, ref_state)
        np.testing.assert_allclose(updates["w"], expected["w"], rtol=1e-6)


def test_a_user_factory_loads_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_rules.py").write_text(textwrap.dedent("""
        import optax

        def scaled_sgd(learning_rate=0.1, scale=1.0):
            return optax.sgd(learning_rate * scale)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_rules", raising=False)
    spec = specs.parse_optimizer("my_rules:scaled_sgd(scale=2.0)")
    assert spec.kind == "factory" and [dim.name for dim in spaces.default_space(spec)] == ["learning_rate"]
    tx = specs.tunable(spec, {"learning_rate": 0.1}, specs.multiplier("step", {"boundaries": (0.5,), "factor": 0.1},
                                                                     2))
    state = specs.set_trial(tx.init({"w": jnp.ones(2)}), {"learning_rate": 0.3})
    first, state = tx.update({"w": jnp.ones(2)}, state)
    second, _ = tx.update({"w": jnp.ones(2)}, state)  # step 1 of 2 is past the boundary 0.5: rate x 0.1
    np.testing.assert_allclose([first["w"][0], second["w"][0]], [-0.6, -0.06], rtol=1e-6)
    with pytest.raises(ValueError, match="no function 'nothing'"):
        specs.parse_optimizer("my_rules:nothing")
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        specs.parse_optimizer("no_such_module:f")


@pytest.mark.parametrize("name, params, expected", [
    ("constant", {}, [1, 1, 1, 1, 1]),
    ("cosine", {"alpha": 0.0}, [1, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)), 0]),
    ("warmup_cosine", {"warmup": 0.5, "alpha": 0.0}, [0, 0.5, 1, 0.5, 0]),
    ("exponential", {"final": 0.01}, [1, 0.01 ** 0.25, 0.1, 0.01 ** 0.75, 0.01]),
    ("step", {"boundaries": (0.5, 0.75), "factor": 0.1}, [1, 1, 0.1, 0.01, 0.01]),
])
def test_schedules_by_hand(name, params, expected):
    schedule = specs.multiplier(name, params, 4)
    np.testing.assert_allclose([float(schedule(jnp.int32(t))) for t in range(5)], expected, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: specs.parse_optimizer("optax:adamz"), "optax's aliases: adabelief"),
    (lambda: specs.parse_optimizer("optax:adamw(beta1=0.9)"), "no hyperparameter beta1; it takes: learning_rate, b1"),
    (lambda: specs.parse_optimizer("chainer:adamw"), "unknown optimizer 'adamw' in family 'chainer'; names"),
    (lambda: specs.parse_optimizer("adam"), "expected FAMILY:NAME"),
    (lambda: specs.parse_optimizer("optax:sgd(momentum=)"), "bad optimizer"),
    (lambda: specs.parse_schedule("linear"), "unknown schedule 'linear'; schedules: constant"),
    (lambda: specs.parse_schedule("cosine(beta=1)"), "no parameter beta; it takes: alpha"),
    (lambda: spaces.parse_dim("learning_rate", "normal(0, 1)"), "loguniform"),
    (lambda: spaces.parse_dim("learning_rate", "loguniform(0, 1)"), "low > 0"),
    (lambda: workloads.get("cifar"), "workloads: mnist_mlp, fashion_mnist_mlp"),
])
def test_unknown_names_list_what_exists(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


@pytest.mark.parametrize("flags, message", [
    (["--workloads", "mnist_cnn"], "unknown workload 'mnist_cnn'"),
    (["--optimizers", "optax:lionn"], "unknown optimizer optax:lionn"),
    (["--trials", "0"], "--trials must be a positive integer"),
    (["--space", "optax:adamw:momentum=loguniform(0.1, 0.5)", "--optimizers", "optax:adamw"],
     "has no hyperparameter momentum"),
    (["--space", "course:adam:learning_rate=0.1", "--optimizers", "course:adam"], "a fixed value goes in the spec"),
    (["--schedule", "cosine(alpha=2)"], "alpha must be a number in [0, 1]"),
    (["--search", "grid", "--trials", "8", "--optimizers", "optax:adamw"], "power n ** 2"),
    (["--target", "mnist_mlp=1.5"], "a validation accuracy in (0, 1]"),
    (["--steps", "30", "--eval-every", "7"], "must be a multiple of eval_every"),
    (["--data-root", "/nonexistent"], "is not a folder"),
    (["--optimizers", "chainer:momentum(momentum=1.5)"], "momentum"),
])
def test_bad_flags_give_one_error_line_before_any_work(flags, message, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: cli_module.main(["--out", str(out), "--workloads", "mnist_mlp", *flags]))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_writes_leaderboard_results_and_plots_with_one_compile_per_workload(mnist_dir, tmp_path, monkeypatch,
                                                                                 capsys):
    compiles = []
    real = sweep.compile_and_run
    monkeypatch.setattr(sweep, "compile_and_run", lambda program, *inputs, **options: compiles.append(1) or real(
        program, *inputs, **options))
    monkeypatch.setenv("JAXDL_DATA_ROOT", str(mnist_dir.parent))
    out = tmp_path / "out"
    cli_module.main(["--workloads", "mnist_mlp", "mnist_overfitting", "--optimizers", "course:adam",
                     "optax:sgd(momentum=0.9)", "--trials", "2", "--seeds", "2", "--steps", "20", "--eval-every", "10",
                     "--schedule", "cosine", "--target", "0.2", "--out", str(out)])
    assert len(compiles) == 2  # one program per workload
    names = sorted(path.name for path in out.iterdir())
    assert names == ["curves_mnist_mlp.png", "curves_mnist_overfitting.png", "leaderboard.md", "profile.png",
                     "results.json", "sensitivity_mnist_mlp.png", "sensitivity_mnist_overfitting.png"]
    assert all((out / n).read_bytes()[:8] == PNG for n in names if n.endswith(".png"))
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "compare_optimizers" and results["split"]["validation"] == [50000, 60000]
    mlp = results["workloads"][0]
    assert (mlp["train_size"], mlp["val_size"], mlp["test_size"], mlp["target"]) == (50000, 10000, 10000, 0.2)
    adam = mlp["arms"][0]
    assert len(adam["trials"]) == 2 and np.shape(adam["val_final"]) == (2, 2)
    assert adam["selected_trial"] == int(np.argmax(np.mean(adam["val_final"], axis=0)))
    board = (out / "leaderboard.md").read_text()
    assert "python -m experiments.compare_optimizers --workloads mnist_mlp" in board
    assert "## Performance profiles across 2 workloads" in board and "`optax:sgd(momentum=0.9)`" in board
    assert "leaderboard.md" in capsys.readouterr().out


def test_runs_split_over_two_devices_equal_the_runs_on_one():
    """With --devices 2 (two CPU devices in a child process) every run is its own member, split over the
    devices and padded (3 trials x 1 seed = 3 runs on 2 devices); the runs equal those on one device."""
    import subprocess

    from tests.conftest import REPO

    code = textwrap.dedent("""
        import json
        import numpy as np
        from jaxdl import parallel
        from jaxdl.compare import specs, sweep
        from tests.test_compare_optimizers import small_splits, small_workload

        workload, splits = small_workload(), small_splits()
        arms = [sweep.Arm(specs.parse_optimizer("optax:adamw"), [{"learning_rate": r, "weight_decay": 0.01}
                                                                for r in (0.003, 0.03, 0.3)]),
                sweep.Arm(specs.parse_optimizer("chainer:momentum"), [{"learning_rate": r, "momentum": 0.9}
                                                                     for r in (0.01, 0.1, 1.0)])]
        multiplier = specs.multiplier("cosine", {"alpha": 0.0}, workload.steps)
        one = sweep.run_sweep(workload, splits, arms, [5], workload.schedule, multiplier)
        two = sweep.run_sweep(workload, splits, arms, [5], workload.schedule, multiplier,
                              mesh=parallel.data_mesh(2))
        print(json.dumps({name: {field: float(np.max(np.abs(np.asarray(getattr(one.runs[name], field), float)
                                                            - np.asarray(getattr(two.runs[name], field), float))))
                                 for field in ("step_loss", "val_loss", "test_loss", "diverged_at")}
                          for name in one.runs} | {"shape": list(two.runs["optax:adamw"].val_accuracy.shape)}))
    """)
    env = {**__import__("os").environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.pop("shape") == [1, 3, 2]
    for name, differences in result.items():
        assert max(differences.values()) < 1e-5, (name, differences)


def test_devices_with_member_axis_map_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.run(lambda: cli_module.main(["--out", str(tmp_path / "o"), "--devices", "2", "--member-axis", "map"]))
    assert "--member-axis map runs a sweep's runs one after another on one device" in capsys.readouterr().err
