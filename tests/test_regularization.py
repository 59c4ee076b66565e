"""L2, L1, dropout (course and inverted) and the course's hidden-layer-only cells, against NumPy.

Oracles: jaxdl.reference.course_numpy (the course's MultiLayerNet with hand-written backward),
jaxdl.reference.optimizers.CourseCell (the 2_5 notebook's L1/L2 loops) and
jaxdl.reference.chainer_numpy (Chainer's inverted dropout); the penalties also against
jaxdl.optim's gradient transforms, an independent implementation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl.optim
from jaxdl.data.sampling import course_indices
from jaxdl.models import MultiLayerNet
from jaxdl.reference import course_numpy, course_training
from jaxdl.reference.chainer_numpy import use_inverted_dropout
from jaxdl.reference.optimizers import CourseCell
from jaxdl.train.run import Data, Schedule, make_run
from jaxdl.train.state import Batch, Task, trained_layers
from jaxdl.train.step import make_eval_step, make_loss_fn, make_train_step

IN, HIDDEN, OUT, N = 20, (12, 9, 7), 10, 16


def make_batch(seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(jnp.asarray(rng.random((N, IN), dtype=np.float32)), jnp.asarray(rng.integers(0, OUT, N), jnp.int32))


def build(dropout=0.0, form="course", seed=0, **task_kwargs):
    """A Task on a relu/He MultiLayerNet, its initial state and the NumPy course net on the same weights."""
    model = MultiLayerNet(IN, HIDDEN, OUT, activation="relu", weight_init="He", dropout_ratio=dropout, dropout=form)
    task = Task(model, jaxdl.optim.create("course:sgd", learning_rate=task_kwargs.pop("lr", 0.1)), **task_kwargs)
    state = task.init(jax.random.key(seed), jnp.zeros((1, IN)))
    oracle = course_numpy.MultiLayerNet(IN, list(HIDDEN), OUT, activation="relu", use_dropout=dropout > 0,
                                        dropout_ratio=dropout, params=course_numpy.from_flax({"params": state.params}))
    if form == "inverted":
        use_inverted_dropout(oracle)
    return task, state, oracle


def dropout_masks(task, state, images):
    _, sown = task.model.apply({"params": state.params}, images, train=True, mutable=["intermediates"],
                               rngs={"dropout": jax.random.fold_in(state.rng, state.step)})
    return [np.asarray(sown["intermediates"][name]["mask"][0]) for name in sorted(sown["intermediates"])]


def close(actual, expected, rtol=3e-5):
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=rtol * max(np.abs(expected).max(), 1e-30))


def weights(params: dict) -> list[str]:
    return [k for k in params if k.startswith("W")]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_l1_loss_and_gradient_are_the_courses(dropout):
    """loss + lambda * sum|W| and dW + lambda * sign(W) on weights only, sign(0) = 0; with dropout too."""
    rate = 0.05
    task, state, oracle = build(dropout=dropout, l1=rate)
    kernel = state.params["affine2"]["kernel"].at[:3, :2].set(0.0)  # exact zeros: np.sign gives 0
    state = state._replace(params={**state.params, "affine2": {**state.params["affine2"], "kernel": kernel}})
    oracle.params["W2"][:3, :2] = 0.0
    batch = make_batch(1)
    x, t = np.asarray(batch.images), np.asarray(batch.labels)
    if dropout:
        oracle.set_dropout_masks(dropout_masks(task, state, x))
    grads = oracle.gradient(x, t)
    (loss, _), jax_grads = jax.value_and_grad(make_loss_fn(task), has_aux=True)(state.params, state, batch)
    close(loss, oracle.train_loss + rate * sum(np.abs(oracle.params[k]).sum() for k in weights(oracle.params)))
    for key, value in course_numpy.from_flax({"params": jax_grads}).items():
        penalty = rate * np.sign(oracle.params[key]) if key.startswith("W") else 0.0
        close(value, grads[key] + penalty)
    at_zero = np.asarray(jax_grads["affine2"]["kernel"])[:3, :2] - grads["W2"][:3, :2]
    assert np.abs(at_zero).max() < rate / 100  # no +-rate where W = 0 (jnp.abs's gradient would add +rate)


@pytest.mark.parametrize("penalty,transform", [("weight_decay", jaxdl.optim.coupled_l2), ("l1", jaxdl.optim.course_l1)])
def test_loss_penalty_equals_the_gradient_transform(penalty, transform):
    """Task's loss-side penalty and jaxdl.optim's g += rate * term(W) give the same SGD steps."""
    task, state, _ = build(**{penalty: 0.2})
    plain = Task(task.model, optax.chain(transform(0.2), jaxdl.optim.create("course:sgd", learning_rate=0.1)))
    plain_state = plain.state_from({"params": state.params}, state.rng)
    step, plain_step = jax.jit(make_train_step(task)), jax.jit(make_train_step(plain))
    for i in range(3):
        state, _ = step(state, make_batch(i))
        plain_state, _ = plain_step(plain_state, make_batch(i))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), state.params, plain_state.params)


@pytest.mark.parametrize("lr,l2,l1,dropout", [(0.01, 0.1, 0.0, 0.0), (0.1, 0.0, 0.005, 0.0), (0.05, 0.0, 0.004, 0.08)],
                         ids=["l2 cell", "l1 cell", "dropout + l1 cell"])
def test_course_cells_update_hidden_layers_only(lr, l2, l1, dropout):
    """Task(trainable='hidden_affine') against the 2_5 notebook's loop; the output layer never moves."""
    task, state, oracle = build(dropout=dropout, lr=lr, weight_decay=l2, l1=l1, trainable="hidden_affine")
    cell = CourseCell(lr, len(HIDDEN), l2=l2, l1=l1)
    initial_hidden, initial_output = (np.asarray(state.params[k]["kernel"]) for k in ("affine1", "affine4"))
    step = jax.jit(make_train_step(task))
    for i in range(3):
        batch = make_batch(i)
        if dropout:
            oracle.set_dropout_masks(dropout_masks(task, state, np.asarray(batch.images)))
        cell.update(oracle.params, oracle.gradient(np.asarray(batch.images), np.asarray(batch.labels)))
        state, _ = step(state, batch)
    for key, value in course_numpy.from_flax({"params": state.params}).items():
        close(value, oracle.params[key], rtol=1e-5)
    np.testing.assert_array_equal(state.params["affine4"]["kernel"], initial_output)
    assert not np.allclose(state.params["affine1"]["kernel"], initial_hidden)


def test_l1_cell_run_matches_the_notebook_loop():
    """A compiled run with evaluations on the whole training set (make_run eval_train) against the
    2_5 notebook's loop on the same batches: accuracy curves and final weights."""
    task, state, oracle = build(lr=0.1, l1=0.005, trainable="hidden_affine")
    rng = np.random.default_rng(9)
    data = Data(*(jnp.asarray(a) for a in (rng.random((40, IN), dtype=np.float32), rng.integers(0, OUT, 40),
                                           rng.random((30, IN), dtype=np.float32), rng.integers(0, OUT, 30))))
    schedule = Schedule(20, 10, 10)
    indices = course_indices(np.random.RandomState(4), 20, 40, 10)
    final, history = jax.jit(make_run(task, schedule, eval_train=True))(state, indices, data)
    x, t, x_test, t_test = (np.asarray(a) for a in data)
    curves = course_training.train(
        oracle, CourseCell(0.1, len(HIDDEN), l1=0.005), x, t, x_test, t_test, 20, 10,
        lambda step: indices[step], train_accuracy="set")
    np.testing.assert_array_equal(np.round(history.train_accuracy * 40),
                                  np.round(np.array(curves["train_accuracy"]) * 40))
    np.testing.assert_array_equal(np.round(history.test_accuracy * 30),
                                  np.round(np.array(curves["test_accuracy"]) * 30))
    for key, value in course_numpy.from_flax({"params": final.params}).items():
        close(value, oracle.params[key], rtol=1e-5)


def test_inverted_dropout_matches_chainer():
    """Train: x * mask / (1 - ratio), gradients alike; test: the identity (no 1 - ratio scaling)."""
    task, state, oracle = build(dropout=0.4, form="inverted", weight_decay=0.01)
    oracle.weight_decay_lambda = 0.01
    batch = make_batch(5)
    x, t = np.asarray(batch.images), np.asarray(batch.labels)
    oracle.set_dropout_masks(dropout_masks(task, state, x))
    grads = oracle.gradient(x, t)
    (loss, _), jax_grads = jax.value_and_grad(make_loss_fn(task), has_aux=True)(state.params, state, batch)
    close(loss, oracle.train_loss)
    for key, value in course_numpy.from_flax({"params": jax_grads}).items():
        close(value, grads[key])
    metrics = make_eval_step(task)(state, batch)
    test_loss, accuracy = metrics["loss"], metrics["accuracy"]
    close(test_loss, oracle.loss(x, t, train_flg=False))
    plain = course_numpy.MultiLayerNet(IN, list(HIDDEN), OUT, activation="relu", weight_decay_lambda=0.01,
                                       params=course_numpy.from_flax({"params": state.params}))
    close(test_loss, plain.loss(x, t))  # inverted dropout is the identity at test time
    assert float(accuracy) == oracle.accuracy(x, t)


def test_course_dropout_scales_at_test_time():
    task, state, oracle = build(dropout=0.4)
    batch = make_batch(6)
    logits = task.model.apply({"params": state.params}, batch.images, train=False)
    close(logits, oracle.predict(np.asarray(batch.images), train_flg=False))
    plain = MultiLayerNet(IN, HIDDEN, OUT, activation="relu", weight_init="He")
    assert not np.allclose(logits, plain.apply({"params": state.params}, batch.images))


def test_trained_layers_by_name():
    params = {"affine1": {}, "batchnorm1": {}, "affine2": {}, "batchnorm2": {}, "affine10": {}, "affine3": {}}
    assert trained_layers(params, "all") == set(params)
    assert trained_layers(params, "affine") == {"affine1", "affine2", "affine3", "affine10"}
    assert trained_layers(params, "hidden_affine") == {"affine1", "affine2", "affine3"}  # affine10 is the output


def test_task_rejects_negative_penalties():
    model = MultiLayerNet(IN, (4,))
    with pytest.raises(ValueError, match="weight_decay and l1 must be >= 0"):
        Task(model, optax.sgd(0.1), l1=-0.1)
    with pytest.raises(ValueError, match="unknown trainable 'output'"):
        Task(model, optax.sgd(0.1), trainable="output")
