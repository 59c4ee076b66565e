"""Compiled runs: switchable networks, stacked initialisation, the grid program and the scanned
loop, each against an independent computation."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl.optim
from jaxdl.data.sampling import course_indices
from jaxdl.models.mlp import MultiLayerNet, course_init, init_variants
from jaxdl.reference import course_numpy, course_training, optimizers
from jaxdl.train.grid import in_chunks, make_grid_program, seed_inputs
from jaxdl.train.run import Data, Schedule, diverged_at, make_run
from jaxdl.train.state import Batch, Task

STRUCTURES = list(itertools.product(["sigmoid", "relu"], [False, True]))


def tiny_data(n_train=64, n_test=40, features=12, seed=0) -> Data:
    rng = np.random.default_rng(seed)
    return Data(jnp.asarray(rng.random((n_train, features), dtype=np.float32)),
                jnp.asarray(rng.integers(0, 10, n_train, dtype=np.int32)),
                jnp.asarray(rng.random((n_test, features), dtype=np.float32)),
                jnp.asarray(rng.integers(0, 10, n_test, dtype=np.int32)))


@pytest.mark.parametrize("activation,batchnorm", STRUCTURES)
def test_switchable_network_equals_static_network(activation, batchnorm):
    static = MultiLayerNet(12, (8, 6), activation=activation, weight_init="xavier", use_batchnorm=batchnorm)
    switched = static.clone(switchable=True)
    x = jax.random.uniform(jax.random.key(1), (16, 12))
    variables = switched.init({"params": jax.random.key(0)}, x)
    static_variables = {"params": {k: v for k, v in variables["params"].items()
                                   if batchnorm or not k.startswith("batchnorm")},
                        **({"batch_stats": variables["batch_stats"]} if batchnorm else {})}

    def loss(model, v, train):
        out = model.apply(v, x, train=train, mutable=["batch_stats"] if train else False)
        return jnp.sum(jnp.sin(out[0] if train else out))

    for train in (True, False):
        np.testing.assert_array_equal(loss(static, static_variables, train), loss(switched, variables, train))
        g_static = jax.grad(lambda p: loss(static, {**static_variables, "params": p}, train))(
            static_variables["params"])
        g_switched = jax.grad(lambda p: loss(switched, {**variables, "params": p}, train))(variables["params"])
        for name, sub in g_static.items():
            for leaf, value in sub.items():
                np.testing.assert_array_equal(value, g_switched[name][leaf])


def test_course_init_draws_the_course_weights():
    """np.random.seed(s) then the course's __init_weight: W{i} = std * randn(n_in, n_out) in order."""
    model = MultiLayerNet(12, (8, 6), activation="relu", weight_init="He", use_batchnorm=True)
    variables = course_init(model, np.random.RandomState(4))
    oracle = course_numpy.MultiLayerNet(12, [8, 6], 10, weight_init_std="He", use_batchnorm=True,
                                        rng=np.random.RandomState(4))
    for key, value in course_numpy.from_flax(variables).items():
        np.testing.assert_allclose(value, oracle.params[key], rtol=1e-7)
    batch_stats = {k: v.tolist() for k, v in variables["batch_stats"]["batchnorm1"].items()}
    assert batch_stats == {"mean": [0.0] * 8, "var": [0.0] * 8}


def test_init_variants_share_draws_and_advance_the_stream_once():
    variants = [MultiLayerNet(12, (8, 6), activation=a, weight_init=w, use_batchnorm=b, switchable=True)
                for a, w, b in [("sigmoid", 0.01, False), ("relu", "He", True), ("sigmoid", "Xavier", True)]]
    rng = np.random.RandomState(3)
    stacked = init_variants(variants, rng)
    for c, variant in enumerate(variants):
        jax.tree.map(lambda a, b: np.testing.assert_array_equal(a[c], b), stacked,
                     course_init(variant, np.random.RandomState(3)))
    kernels = stacked["params"]["affine1"]["kernel"]  # one shared draw, scaled by each std
    np.testing.assert_allclose(kernels[1] / kernels[0], np.sqrt(2 / 12) / 0.01, rtol=1e-6)
    np.testing.assert_array_equal(stacked["switches"]["sigmoid"], [True, False, True])
    after_one = np.random.RandomState(3)
    course_init(variants[0], after_one)
    assert rng.randint(1 << 30) == after_one.randint(1 << 30)


def test_init_variants_rejects_networks_of_other_shapes():
    with pytest.raises(ValueError, match="same variables"):
        init_variants([MultiLayerNet(12, (8,)), MultiLayerNet(12, (8,), use_batchnorm=True)],
                      np.random.RandomState(0))


def test_grid_run_equals_the_course_numpy_code_with_the_same_seed():
    """Seed s in jaxdl = the course's NumPy loop after np.random.seed(s): same initial weights,
    same batches (np.random.choice per step), same SGD on W and b, same evaluations."""
    model = MultiLayerNet(12, (8, 6), activation="sigmoid", weight_init="xavier", use_batchnorm=True,
                          switchable=True)
    task = Task(model, optax.sgd(0.5), loss="course", trainable="affine")
    data, schedule = tiny_data(), Schedule(20, 5, 10)
    inputs = seed_inputs(lambda rng: init_variants([model], rng), [11], schedule, 64)
    _, history = make_grid_program(task, schedule)(inputs, data)

    rng = np.random.RandomState(11)
    oracle = course_numpy.MultiLayerNet(12, [8, 6], 10, activation="sigmoid", weight_init_std="xavier",
                                        use_batchnorm=True, rng=rng)
    x, t = np.asarray(data.train_images), np.asarray(data.train_labels)
    x_test, t_test = np.asarray(data.test_images), np.asarray(data.test_labels)
    curves = course_training.train(oracle, optimizers.AffineSGD(0.5), x, t, x_test, t_test, 20, 10,
                                   lambda step: rng.choice(64, 5), train_accuracy="batch", loss="train_forward")
    np.testing.assert_allclose(history.step_loss[0, 0], curves["loss"], rtol=1e-5)
    np.testing.assert_array_equal(history.test_accuracy[0, 0], np.float32(curves["test_accuracy"]))
    np.testing.assert_array_equal(history.batch_accuracy[0, 0], np.float32(curves["train_accuracy"]))


def test_scanned_run_trains_on_the_given_indices():
    """Final parameters of make_run equal plain SGD in NumPy over the same index schedule."""
    model = MultiLayerNet(12, (8,), activation="relu", weight_init="he")
    task = Task(model, optax.sgd(0.2), loss="chainer")
    data, schedule = tiny_data(), Schedule(6, 4, 3)
    variables = course_init(model, np.random.RandomState(0))
    indices = course_indices(np.random.RandomState(1), 6, 64, 4)
    final, history = jax.jit(make_run(task, schedule))(task.state_from(variables, jax.random.key(0)), indices, data)
    oracle = course_numpy.MultiLayerNet(12, [8], 10, params=course_numpy.from_flax(variables))
    x, t = np.asarray(data.train_images), np.asarray(data.train_labels)
    sgd = optimizers.SGD(0.2)
    for idx in indices:
        sgd.update(oracle.params, oracle.gradient(x[idx], t[idx]))
    for key, value in course_numpy.from_flax({"params": final.params}).items():
        np.testing.assert_allclose(value, oracle.params[key], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match=r"indices have shape \(5, 4\); the schedule needs"):
        make_run(task, schedule)(task.state_from(variables, jax.random.key(0)), indices[:5], data)


@pytest.mark.parametrize("optimizer", ["course:sgd", "chainer:momentum"])
def test_grid_program_equals_separate_runs(optimizer):
    """Each (seed, config) of the grid (kernels carried kernel-major, optimizer slots too, the test
    set evaluated in pieces) trains as the same run made alone with make_run."""
    variants = [MultiLayerNet(12, (8, 6), activation=a, weight_init=w, use_batchnorm=b, switchable=True)
                for a, w, b in [("sigmoid", 0.01, False), ("relu", "He", True)]]
    tx = jaxdl.optim.create(optimizer, learning_rate=0.05)
    task = Task(variants[0], tx, trainable="all")
    data, schedule = tiny_data(n_test=60000), Schedule(12, 4, 6)  # 4 networks: the test set in 2 pieces
    inputs = seed_inputs(lambda rng: init_variants(variants, rng), [5, 6], schedule, 64)
    final, grid = make_grid_program(task, schedule)(inputs, data)
    for s in range(2):
        for c, variant in enumerate(variants):
            static = variant.clone(switchable=False)
            static_task = Task(static, tx, trainable="all")
            variables = course_init(static, np.random.RandomState(5 + s))
            state = static_task.state_from(variables, inputs.dropout_keys[s])
            alone_final, alone = jax.jit(make_run(static_task, schedule))(state, inputs.indices[s], data)
            np.testing.assert_allclose(grid.step_loss[s, c], alone.step_loss, rtol=2e-5)
            np.testing.assert_allclose(grid.test_loss[s, c], alone.test_loss, rtol=2e-5)
            np.testing.assert_allclose(grid.test_accuracy[s, c], alone.test_accuracy, atol=1e-6)
            for key, value in alone_final.params.items():
                for name in value:
                    np.testing.assert_allclose(final.params[key][name][s, c], value[name], rtol=2e-4, atol=1e-6)


def test_schedule_rejects_bad_values():
    with pytest.raises(ValueError, match="multiple of eval_every"):
        Schedule(150, 100, 100).check()
    with pytest.raises(ValueError, match="batch_size must be positive"):
        Schedule(100, 0, 100).check()


def test_divergence_is_the_first_non_finite_step():
    model = MultiLayerNet(12, (8,), activation="relu", weight_init="he")
    task = Task(model, optax.sgd(0.1))
    data = tiny_data()._replace(train_images=tiny_data().train_images.at[3:].set(jnp.nan))
    state = task.init(jax.random.key(0), jnp.zeros((1, 12)))
    indices = np.arange(32, dtype=np.int32).reshape(4, 8)  # the NaN rows come in at step 1
    final, history = jax.jit(make_run(task, Schedule(4, 8, 2)))(state, indices, data)
    assert diverged_at(history.step_loss) == 1  # the NaN rows come in at step 1
    assert diverged_at(history.step_loss, final.params) == 1
    finite = np.ones((2, 3, 4), np.float32)
    assert diverged_at(finite).tolist() == [[0, 0, 0], [0, 0, 0]]
    params = {"w": np.ones((2, 3, 5), np.float32)}
    params["w"][1, 2, 4] = np.inf  # loss finite throughout, parameters not: diverged in the last update
    assert diverged_at(finite, params).tolist() == [[0, 0, 0], [0, 0, 4]]


def test_task_rejects_unknown_names():
    model = MultiLayerNet(12, (8,))
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        Task(model, optax.sgd(0.1), loss="mse")
    with pytest.raises(ValueError, match="unknown trainable"):
        Task(model, optax.sgd(0.1), trainable="bn")


@pytest.mark.parametrize("n,pieces", [(10000, 10), (3000, 3), (1001, 7), (1009, 1), (300, 1)])
def test_evaluation_in_pieces_is_the_batch_mean(n, pieces):
    """in_chunks: the mean of equal pieces' means is the whole batch's mean, piece sizes as documented."""
    calls = []

    def eval_fn(state, batch):
        calls.append(batch.labels.shape[0])
        return batch.images.mean() * state, (batch.labels % 3 == 0).mean()

    images = np.arange(n, dtype=np.float32) / n
    labels = np.arange(n, dtype=np.int32)
    loss, accuracy = jax.jit(in_chunks(eval_fn))(jnp.float32(2.0), Batch(jnp.asarray(images), jnp.asarray(labels)))
    np.testing.assert_allclose(loss, 2.0 * images.astype(np.float64).mean(), rtol=1e-6)
    np.testing.assert_allclose(accuracy, np.mean(labels % 3 == 0), rtol=1e-6)
    assert calls == [n // pieces]


def test_eval_step_weights_leave_padding_rows_out():
    """Chainer's loss and accuracy over the real rows only: rows of weight 0 (padding that lets a
    batch split evenly over devices) change nothing; the oracle is NumPy's log-softmax."""
    import flax.linen as nn

    from jaxdl.train.step import make_eval_step

    class Linear(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            return nn.Dense(4, name="dense")(x)

    task = Task(Linear(), optax.sgd(0.1), loss="chainer")
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((3, 5)).astype(np.float32), np.array([2, 0, 1])
    state = task.init(jax.random.key(0), jnp.zeros((1, 5)))
    kernel, bias = (np.asarray(state.params["dense"][k], np.float64) for k in ("kernel", "bias"))
    logits = images[:2].astype(np.float64) @ kernel + bias
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected_loss = -log_softmax[[0, 1], labels[:2]].mean()
    expected_accuracy = (logits.argmax(axis=1) == labels[:2]).mean()
    padded = Batch(images, labels, np.array([1.0, 1.0, 0.0], np.float32))  # row 2 is padding
    metrics = jax.jit(make_eval_step(task))(state, padded)
    np.testing.assert_allclose(float(metrics["loss"]), expected_loss, rtol=1e-6)
    assert float(metrics["accuracy"]) == pytest.approx(expected_accuracy)
