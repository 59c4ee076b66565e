"""Bad inputs to the public API: each raises ValueError or TypeError (or a subclass) naming the
argument and its value, before any work; and max pooling's cost does not grow with its window."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

import jaxdl.chainer
import jaxdl.data
import jaxdl.optim
from jaxdl.chainer import ChainerFileError, ModelState
from jaxdl.data.imagelist import ImageListDataset, ImageListError, compute_mean, load_mean, parse_image_list
from jaxdl.models import AlexNet, MultiLayerNet, SimpleConvNet
from jaxdl.nn import (
    BatchNorm,
    Convolution2D,
    conv_output_size,
    convolution_2d,
    course_max_pooling_2d,
    inverted_dropout,
    local_response_normalization,
    max_pooling_2d,
    pooling_output_size,
)
from jaxdl.nn.pooling import UNROLLED_MAX_WINDOW
from jaxdl.reference import chainer_numpy
from jaxdl.train.checkpoint import CheckpointError, restore_checkpoint

X4 = jnp.ones((1, 6, 6, 2), jnp.float32)
KEY = jax.random.key(0)
# loss_and_grads checks its labels against the logits' width (fc8's bias) before computing anything
ALEX_1000 = ModelState(params={"fc8": {"bias": np.zeros(1000, np.float32)}}, arch="alex")
NCHW_BATCH = np.zeros((2, 3, 227, 227), np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of bad files: a .npy, a text file, a truncated zip, a Chainer-style npz, images of two
    sizes, a non-image, and image lists naming them."""
    root = tmp_path_factory.mktemp("bad")
    np.save(root / "array.npy", np.zeros(3, np.float32))
    (root / "text.npz").write_text("not an archive\n")
    np.savez(root / "full.npz", **{"conv1/W": np.zeros(1000, np.float32)})
    (root / "truncated.npz").write_bytes((root / "full.npz").read_bytes()[:300])
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "a.png")
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / "small.png")
    (root / "notes.png").write_text("not an image\n")
    (root / "nonimage.txt").write_text("a.png 0\nnotes.png 1\n")
    (root / "sizes.txt").write_text("a.png 0\nsmall.png 1\n")
    (root / "negative.txt").write_text("a.png 0\nsmall.png -3\n")
    (root / "fraction.txt").write_text("a.png 0.5\n")
    return root


def _small_convnet_params():
    return SimpleConvNet().init({"params": KEY}, jnp.zeros((1, 28, 28, 1)))


CASES = [
    # jaxdl.data.load: the dataset's name
    ("load-name-list", lambda d: jaxdl.data.load(["mnist"]), ValueError, ("unknown dataset", "['mnist']", "mnist")),
    # jaxdl.optim.create: spec, each hyperparameter's type and range
    ("create-negative-lr", lambda d: jaxdl.optim.create("course:sgd", learning_rate=-1.0),
     ValueError, ("learning_rate", "-1.0", "> 0")),
    ("create-beta1-2", lambda d: jaxdl.optim.create("course:adam", beta1=2.0), ValueError, ("beta1", "2.0", "[0, 1)")),
    ("create-string-lr", lambda d: jaxdl.optim.create("chainer:adam", learning_rate="0.1"),
     TypeError, ("learning_rate", "'0.1'", "str")),
    ("create-spec-int", lambda d: jaxdl.optim.create(123), TypeError, ("spec", "123", "chainer:adam")),
    ("create-eps-0", lambda d: jaxdl.optim.create("chainer:adagrad", eps=0.0), ValueError, ("eps", "0.0")),
    ("create-momentum-nan", lambda d: jaxdl.optim.create("course:momentum", momentum=float("nan")),
     ValueError, ("momentum", "nan")),
    ("create-decay-1", lambda d: jaxdl.optim.create("notebook:rmsprop", decay_rate=1.0),
     ValueError, ("decay_rate", "1.0")),
    ("create-optax-beta2", lambda d: jaxdl.optim.create("optax:adam", learning_rate=0.1, beta2=-0.5),
     ValueError, ("beta2", "-0.5")),
    ("create-lr-inf", lambda d: jaxdl.optim.create("course:sgd", learning_rate=float("inf")),
     ValueError, ("learning_rate", "inf")),
    ("create-lr-vector", lambda d: jaxdl.optim.create("course:sgd", learning_rate=jnp.ones(3)),
     TypeError, ("learning_rate", "(3,)")),
    ("create-schedule-no-inject", lambda d: jaxdl.optim.create("course:sgd", learning_rate=optax.constant_schedule(1.)),
     TypeError, ("learning_rate", "inject=True")),
    ("create-inject-str", lambda d: jaxdl.optim.create("course:sgd", inject="yes"), TypeError, ("inject", "'yes'")),
    ("describe-negative-lr", lambda d: jaxdl.optim.describe("chainer:sgd", learning_rate=-0.5),
     ValueError, ("learning_rate", "-0.5")),
    ("coupled-l2-negative", lambda d: jaxdl.optim.coupled_l2(-0.1), ValueError, ("rate", "-0.1")),
    # LRN
    ("lrn-n-float", lambda d: local_response_normalization(X4, n=2.5), TypeError, ("n", "2.5")),
    ("lrn-int32", lambda d: local_response_normalization(jnp.ones((1, 2, 2, 4), jnp.int32)),
     TypeError, ("x", "int32")),
    ("lrn-k-0", lambda d: local_response_normalization(X4, k=0.0), ValueError, ("k", "0.0")),
    ("lrn-alpha-negative", lambda d: local_response_normalization(X4, alpha=-1.0), ValueError, ("alpha", "-1.0")),
    ("lrn-axis", lambda d: local_response_normalization(X4, axis=4), ValueError, ("axis", "4")),
    # max pooling (Chainer's and the book's)
    ("pool-pad-negative", lambda d: max_pooling_2d(X4, 2, pad=-1), ValueError, ("pad", "-1")),
    ("pool-ksize-0", lambda d: max_pooling_2d(X4, 0), ValueError, ("ksize", "0")),
    ("pool-stride-0", lambda d: max_pooling_2d(X4, 2, stride=0), ValueError, ("stride", "0")),
    ("pool-ksize-float", lambda d: max_pooling_2d(X4, 2.5), TypeError, ("ksize", "2.5")),
    ("pool-rank-3", lambda d: max_pooling_2d(jnp.ones((6, 6, 2)), 2), ValueError, ("rank 4", "(6, 6, 2)")),
    ("pool-int32", lambda d: max_pooling_2d(jnp.ones((1, 4, 4, 1), jnp.int32), 2), TypeError, ("x", "int32")),
    ("pool-cover-all", lambda d: max_pooling_2d(X4, 2, cover_all="no"), TypeError, ("cover_all", "'no'")),
    ("course-pool-stride-0", lambda d: course_max_pooling_2d(X4, 2, stride=0), ValueError, ("stride", "0")),
    ("course-pool-pad-float", lambda d: course_max_pooling_2d(X4, 2, pad=0.5), TypeError, ("pad", "0.5")),
    ("pooling-size-stride-0", lambda d: pooling_output_size(8, 2, 0, 0, True), ValueError, ("s", "0")),
    ("conv-size-k-float", lambda d: conv_output_size(8, 2.0, 1, 0), TypeError, ("k", "2.0")),
    # convolution, dropout, batch norm
    ("conv-stride-0", lambda d: convolution_2d(X4, jnp.ones((3, 3, 2, 4)), stride=0), ValueError, ("stride", "0")),
    ("conv-pad-negative", lambda d: convolution_2d(X4, jnp.ones((3, 3, 2, 4)), pad=-2), ValueError, ("pad", "-2")),
    ("conv-channels", lambda d: convolution_2d(X4, jnp.ones((3, 3, 5, 4))), ValueError, ("2 channels", "takes 5")),
    ("conv-method", lambda d: convolution_2d(X4, jnp.ones((3, 3, 2, 4)), method="fft"), ValueError, ("method", "fft")),
    ("conv-module-ksize", lambda d: Convolution2D(8, 0), ValueError, ("ksize", "0")),
    ("dropout-ratio-1", lambda d: inverted_dropout(X4, None, 1.0), ValueError, ("ratio", "1.0", "[0, 1)")),
    ("batchnorm-convention-int", lambda d: BatchNorm(convention=1), TypeError, ("convention", "1")),
    ("batchnorm-convention-name", lambda d: BatchNorm(convention="torch"), ValueError, ("convention", "'torch'")),
    # models: input shape and dtype
    ("alexnet-28x28", lambda d: AlexNet().init(KEY, jnp.zeros((1, 28, 28, 1))),
     ValueError, ("(N, 227, 227, 3) NHWC float", "(1, 28, 28, 1)")),
    ("alexnet-nchw", lambda d: AlexNet().init(KEY, jnp.zeros((1, 3, 227, 227))),
     ValueError, ("(1, 3, 227, 227)", "transpose")),
    ("alexnet-uint8", lambda d: AlexNet().init(KEY, jnp.zeros((1, 227, 227, 3), jnp.uint8)), TypeError, ("uint8",)),
    ("convnet-image-size", lambda d: SimpleConvNet().apply(_small_convnet_params(), jnp.zeros((2, 32, 32, 1))),
     ValueError, ("(2, 32, 32, 1)", "initialised")),
    ("convnet-nchw", lambda d: SimpleConvNet().apply(_small_convnet_params(), jnp.zeros((2, 1, 28, 28))),
     ValueError, ("(2, 1, 28, 28)", "transpose")),
    ("mlp-unbatched", lambda d: MultiLayerNet(784, [10]).init(KEY, jnp.zeros(784)), ValueError, ("(784,)", "x[None]")),
    ("mlp-hidden-int", lambda d: MultiLayerNet(784, 100), TypeError, ("hidden_sizes", "100")),
    # jaxdl.chainer: batches, labels, files
    ("chainer-label-1000", lambda d: jaxdl.chainer.loss_and_grads(ALEX_1000, NCHW_BATCH, np.array([3, 1000])),
     ValueError, ("labels[1] = 1000", "[0, 1000)")),
    ("chainer-label-negative", lambda d: jaxdl.chainer.loss_and_grads(ALEX_1000, NCHW_BATCH, np.array([-1, 0])),
     ValueError, ("labels[0] = -1",)),
    ("chainer-predict-nhwc", lambda d: jaxdl.chainer.predict(ALEX_1000, np.zeros((1, 227, 227, 3), np.float32)),
     ValueError, ("(1, 227, 227, 3)", "transpose")),
    ("chainer-predict-state", lambda d: jaxdl.chainer.predict({"fc8": {}}, NCHW_BATCH), TypeError, ("state", "dict")),
    ("load-npz-npy", lambda d: jaxdl.chainer.load_npz(d / "array.npy"), ChainerFileError, ("array.npy", ".npy")),
    ("load-npz-truncated", lambda d: jaxdl.chainer.load_npz(d / "truncated.npz"),
     ChainerFileError, ("truncated.npz", "truncated")),
    ("load-npz-text", lambda d: jaxdl.chainer.load_npz(d / "text.npz"),
     ChainerFileError, ("text.npz", "Chainer model npz")),
    ("restore-chainer-npz", lambda d: restore_checkpoint(d / "full.npz", {"a": np.zeros(1)}),
     CheckpointError, ("full.npz", "snapshot_iter_N", "--initmodel")),
    ("restore-npy", lambda d: restore_checkpoint(d / "array.npy", {"a": np.zeros(1)}), CheckpointError, ("array.npy",)),
    # image lists
    ("imagelist-non-image", lambda d: compute_mean(parse_image_list(d / "nonimage.txt"), d),
     ImageListError, ("notes.png", "nonimage.txt, line 2")),
    ("imagelist-sizes", lambda d: compute_mean(parse_image_list(d / "sizes.txt"), d),
     ImageListError, ("small.png", "(6, 8, 3)", "(8, 8, 3)")),
    ("imagelist-negative-label", lambda d: parse_image_list(d / "negative.txt"),
     ImageListError, ("negative.txt, line 2", "-3")),
    ("imagelist-fraction-label", lambda d: parse_image_list(d / "fraction.txt"),
     ImageListError, ("fraction.txt, line 1", "0.5")),
    ("imagelist-label-classes", lambda d: parse_image_list(d / "sizes.txt", num_classes=1),
     ImageListError, ("sizes.txt, line 2", "label 1")),
    ("mean-not-npy", lambda d: load_mean(d / "full.npz"), ImageListError, ("full.npz", ".npy")),
    ("dataset-crop-0", lambda d: ImageListDataset([("a.png", 0)], d, np.zeros((8, 8, 3), np.float32), 0),
     ValueError, ("crop_size", "0")),
]


@pytest.mark.parametrize(("call", "error", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_raises_a_named_error(files, call, error, fragments):
    assert issubclass(error, ValueError | TypeError)
    with pytest.raises(error) as caught:
        call(files)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "unsafely" not in message


# -------------------------------------------------------------------- max pooling with large windows
def _op_count(jaxpr) -> int:
    """Equations of a jaxpr, those of its sub-jaxprs (jit, custom_vjp, reduce_window's) included."""
    count = 0
    for eqn in jaxpr.eqns:
        count += 1
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    count += _op_count(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    count += _op_count(sub)
    return count


def _pooling_ops(ksize: int) -> int:
    """The size of the program of eager max pooling's value and input gradient."""
    value_and_grad = jax.value_and_grad(lambda v: jnp.sum(max_pooling_2d(v, ksize)))
    return _op_count(jax.make_jaxpr(value_and_grad)(jnp.ones((2, 8, 8, 6))).jaxpr)


def test_pooling_work_does_not_grow_with_the_window():
    """The issue's hang: ksize 100 unrolled 10,000 window offsets. The program (what an eager call
    compiles and runs op by op) is now the same for every window above the unrolled limit, and no
    larger than at the limit itself."""
    limit = int(np.sqrt(UNROLLED_MAX_WINDOW))
    counts = {k: _pooling_ops(k) for k in (1, 2, 3, limit, limit + 1, 20, 100)}
    assert counts[limit + 1] == counts[20] == counts[100]
    assert max(counts.values()) == counts[limit], counts


@pytest.mark.parametrize(("shape", "ksize", "stride", "pad", "cover_all"), [
    ((2, 6, 8, 8), 100, None, 0, True),  # the case, NCHW here: one window far larger than the image
    ((2, 3, 13, 11), 9, 2, 3, True),  # overlapping windows: a pixel's gradient sums over several
    ((1, 2, 20, 17), 10, 3, 0, False),
])
def test_large_window_pooling_equals_the_oracle(shape, ksize, stride, pad, cover_all):
    rng = np.random.default_rng(ksize)
    x = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    s = ksize if stride is None else stride
    y_ref, _ = chainer_numpy.max_pool(x, None, ksize, s, pad, cover_all)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    y_ref, gx_ref = chainer_numpy.max_pool(x, gy, ksize, s, pad, cover_all)
    y, vjp = jax.vjp(lambda v: max_pooling_2d(v, ksize, stride, pad, cover_all), jnp.asarray(x.transpose(0, 2, 3, 1)))
    gx = vjp(jnp.asarray(gy.transpose(0, 2, 3, 1)))[0]
    np.testing.assert_array_equal(np.asarray(y).transpose(0, 3, 1, 2), y_ref)
    np.testing.assert_allclose(np.asarray(gx).transpose(0, 3, 1, 2), gx_ref, rtol=1e-6, atol=1e-6)
