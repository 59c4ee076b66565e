"""The course's conv nets against the book's NumPy im2col networks on the same weights.

With the default conv_method "auto", test-mode outputs go through lax.conv and training-mode
losses and gradients through the im2col lowering, so both are checked here.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.optim
from jaxdl.models.convnets import DEEP_PRE_NODE_NUMS, DeepConvNet, DoubleConvNet, SimpleConvNet, course_init
from jaxdl.reference import course_convnet, optimizers
from jaxdl.train.state import Batch, Task
from jaxdl.train.step import make_loss_fn, make_train_step

N = 6
BOOK = {"simple": course_convnet.simple_convnet, "double": course_convnet.double_convnet,
        "deep": course_convnet.deep_convnet}
MODELS = {"simple": SimpleConvNet(), "double": DoubleConvNet(), "deep": DeepConvNet()}
# One compiled init per net, for setup and test_initialisation_follows_the_course alike: a conv
# net's init (its random draws) takes XLA seconds to compile.
INIT = {name: jax.jit(model.init) for name, model in MODELS.items()}


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((N, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, N).astype(np.int32)


def setup(name: str, seed: int = 0):
    task = Task(MODELS[name], jaxdl.optim.create("course:adam", learning_rate=0.001), loss="course")
    x, t = batch(seed)
    param_key, dropout_key = jax.random.split(jax.random.key(seed))  # as task.init: the same state
    state = task.state_from(INIT[name]({"params": param_key}, jnp.asarray(x[:1])), dropout_key)
    book = BOOK[name](params=course_convnet.from_flax(state.params))
    return task, state, book, x, t


def dropout_masks(task, state, x):
    _, sown = jax.jit(lambda p, key: task.model.apply({"params": p}, x, train=True, mutable=["intermediates"],
                                                      rngs={"dropout": key}))(
        state.params, jax.random.fold_in(state.rng, state.step))
    layers = sown.get("intermediates", {})
    return [np.asarray(layers[name]["mask"][0]) for name in sorted(layers)]


def close(actual, expected, rtol=2e-5):
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=rtol * max(np.abs(expected).max(), 1e-30))


@pytest.mark.parametrize("name", ["simple", "double"])
def test_forward_loss_and_gradients_match_the_book(name):
    task, state, book, x, t = setup(name)
    x_book = x.transpose(0, 3, 1, 2).astype(np.float64)
    logits = jax.jit(lambda p: task.model.apply({"params": p}, x, train=False))(state.params)
    close(logits, book.predict(x_book, train_flg=False))
    grads = book.gradient(x_book, t)
    batch_ = Batch(jnp.asarray(x), jnp.asarray(t))
    (loss, _), jax_grads = jax.jit(jax.value_and_grad(make_loss_fn(task), has_aux=True))(state.params, state, batch_)
    close(loss, book.train_loss)
    converted = course_convnet.from_flax(jax_grads)
    assert converted.keys() == grads.keys()
    for key, value in converted.items():
        close(value, grads[key], rtol=1e-4)


def test_deep_convnet_forward_matches_the_book_in_both_modes():
    """Test mode (dropout scales by 1 - ratio; against the inverted form too) and train mode with the
    masks the train step draws."""
    task, state, book, x, t = setup("deep")
    x_book = x.transpose(0, 3, 1, 2).astype(np.float64)
    logits = jax.jit(lambda p: task.model.apply({"params": p}, x, train=False))(state.params)
    close(logits, book.predict(x_book, train_flg=False))
    # the book's Dropout after the last Affine: test-mode logits are 0.5 * (0.5 * h @ W + b), inverted's h @ W + b
    inverted = jax.jit(lambda p: DeepConvNet(dropout="inverted").apply({"params": p}, x))(state.params)
    bias = state.params["affine2"]["bias"]
    np.testing.assert_allclose(logits, 0.5 * (0.5 * (inverted - bias) + bias), rtol=1e-5, atol=1e-7)
    book.set_dropout_masks(dropout_masks(task, state, x))
    loss, _ = jax.jit(make_loss_fn(task))(state.params, state, Batch(jnp.asarray(x), jnp.asarray(t)))
    close(loss, book.loss(x_book, t, train_flg=True))


def test_one_adam_step_matches_the_book():
    task, state, book, x, t = setup("simple", seed=3)
    state, _ = jax.jit(make_train_step(task))(state, Batch(jnp.asarray(x), jnp.asarray(t)))
    adam = optimizers.make("course:adam", learning_rate=0.001)
    adam.update(book.params, book.gradient(x.transpose(0, 3, 1, 2).astype(np.float64), t))
    for key, value in course_convnet.from_flax(state.params).items():
        close(value, book.params[key], rtol=1e-5)


@pytest.mark.parametrize("name", ["simple", "double", "deep"])
def test_initialisation_follows_the_course(name):
    params = INIT[name]({"params": jax.random.key(1)}, jnp.zeros((1, 28, 28, 1)))["params"]
    book = BOOK[name](rng=np.random.RandomState(0)).params
    ours = course_convnet.from_flax(params)
    stds = ([math.sqrt(2.0 / n) for n in (*DEEP_PRE_NODE_NUMS, 50)] if name == "deep"
            else [0.01] * (len(book) // 2))
    for i, std in enumerate(stds, start=1):
        w = ours[f"W{i}"]
        assert w.shape == book[f"W{i}"].shape
        assert abs(w.std() / std - 1) < 4 / math.sqrt(2 * w.size) + 0.02, (i, w.std(), std)
        assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
        np.testing.assert_array_equal(ours[f"b{i}"], 0.0)


@pytest.mark.parametrize("name", ["simple", "double", "deep"])
def test_course_init_draws_the_books_weights(name):
    """np.random.seed(s), then the book's constructor: W_i = std_i * randn(*book_shape) in layer order."""
    ours = course_convnet.from_flax(course_init(MODELS[name], np.random.RandomState(7))["params"])
    book = BOOK[name](rng=np.random.RandomState(7)).params
    assert ours.keys() == book.keys()
    for key, value in ours.items():
        np.testing.assert_allclose(value, book[key], rtol=1e-6, atol=1e-9)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="unknown dropout form 'gaussian'"):
        DeepConvNet(dropout="gaussian")
    with pytest.raises(ValueError, match=r"dropout_ratio must be in \[0, 1\)"):
        DeepConvNet(dropout_ratio=1.0)
    with pytest.raises(ValueError, match="unknown conv_method 'fft'"):
        SimpleConvNet(conv_method="fft").init({"params": jax.random.key(0)}, jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match="weight_init_std must be positive"):
        SimpleConvNet(weight_init_std=0.0).init({"params": jax.random.key(0)}, jnp.zeros((1, 28, 28, 1)))
