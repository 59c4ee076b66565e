"""Generate Chainer 7.8.1 reference fixtures for the jaxdl tests.

Run from the repository root, with a Python that has Chainer 7.8.1 (and NumPy 1.x) installed:

    /work/chainer-venv/bin/python tests/oracles/make_chainer_fixtures.py

It writes these files into tests/fixtures/ (np.savez_compressed). Every file holds a scalar
string "chainer_version" (and "numpy_version"). All inputs are float32 (Chainer computes in
float32), drawn from seeded numpy RandomState streams; every gradient "gX" is the gradient of
sum(y * gy) with respect to X, obtained by setting y.grad = gy and calling y.backward() (CPU,
NumPy backend, no iDeep).

lrn.npz - chainer.functions.local_response_normalization(x, n, k, alpha, beta), x NCHW (2,7,3,4)
    "n_cases"; per case i: "case{i}/params" float64 [n, k, alpha, beta], "case{i}/x", "case{i}/y",
    "case{i}/gy", "case{i}/gx". Cases (n,k,alpha,beta): (5,2,1e-4,0.75) (Chainer defaults),
    (5,2,0.5,0.75), (3,1,0.3,0.5), (4,2,0.2,0.75) (even n), (7,0.5,1.0,1.5), (6,1,0.4,0.75) (even n).

pooling.npz - chainer.functions.max_pooling_2d(x, ksize, stride, pad, cover_all), x (2,3,H,W)
    with all-distinct values. "n_cases"; per case i: "case{i}/params" int64
    [H, W, ksize, stride, pad, cover_all] (stride -1 means None, i.e. stride = ksize;
    cover_all 1/0), "case{i}/x", "case{i}/y", "case{i}/gy", "case{i}/gx".

alexnet.npz - examples/imagenet/alex.py Alex (class copied below) loaded with
    alex_weights.chainer_alex_weights(0), run on alex_weights.alex_inputs(1) (batch 2) under
    chainer.using_config('train', False) (dropout off):
    "labels" (2,) int32, "x_sum" float64 (checksum of the input), "weight_sums" float64 (16,)
    (float64 sum of each parameter in param_names order; equal only to ~1e-14 across NumPy
    versions because of summation order), "weights_sha256" / "x_sha256" str (sha256 of the
    float32 bytes, params concatenated in param_names order: bit-exact stream check),
    "logits" (2,1000), "loss" (scalar, softmax cross-entropy mean),
    gradients of loss after loss.backward(): "grad/conv1/b", "grad/conv5/b", "grad/fc6/b",
    "grad/fc7/b", "grad/fc8/b" (full), "grad/conv1/W[:4]", "grad/conv2/W[:2]",
    "grad/conv5/W[:2]", "grad/fc6/W[:3]" (rows 0..2, all 9216 columns in C,H,W order),
    "grad/fc8/W[:3]";
    "param_names" (16,) str and "param_shapes" (16,4) int64 (padded with -1): the keys and shapes
    of chainer.serializers.save_npz(model), sorted (= namedparams() order; save_npz's own order
    is set-iteration order and varies with PYTHONHASHSEED); "n_params" int64 = 62,378,344;
    "snapshot_names" str (sorted), "snapshot_shapes" (K,4) int64 (-1 padded; 0-d: all -1),
    "snapshot_dtypes" str: every key of chainer.serializers.save_npz(trainer) after one training
    iteration of a trainer set up like examples/imagenet/train_imagenet.py (MomentumSGD(0.01,
    0.9), StandardUpdater, Evaluator, DumpGraph, snapshot, snapshot_object, LogReport,
    observe_lr, PrintReport, ProgressBar); "snapshot_iterator" names the iterator class used.

batchnorm.npz - chainer.links.BatchNormalization(5) (eps 2e-5, decay 0.9), x (8,5):
    "eps", "decay", "gamma", "beta" (the values set before step 0); for steps s = 0,1,2 (train
    mode): "step{s}/x", "step{s}/y", "step{s}/avg_mean", "step{s}/avg_var" (running stats after
    the step); step 0 also "step0/gy", "step0/gx", "step0/ggamma", "step0/gbeta";
    then test mode on a 4th batch: "x_test", "y_test".

conv.npz - chainer.functions.convolution_2d(x, W, b, stride, pad): "n_cases"; per case i:
    "case{i}/params" int64 [C, H, W, O, k, stride, pad], "case{i}/x" (2,C,H,W),
    "case{i}/W" (O,C,k,k), "case{i}/b" (O,), "case{i}/y", "case{i}/gy", "case{i}/gx",
    "case{i}/gW", "case{i}/gb".
"""

import hashlib
import io
import os
import sys
import tempfile

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import training
from chainer.training import extensions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import alex_weights  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(HERE), "fixtures")


# ---------------------------------------------------------------------------------------------
# Copied from chainer/examples/imagenet/alex.py (v7.8.1)
class Alex(chainer.Chain):

    """Single-GPU AlexNet without partition toward the channel axis."""

    insize = 227

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(None,  96, 11, stride=4)
            self.conv2 = L.Convolution2D(None, 256,  5, pad=2)
            self.conv3 = L.Convolution2D(None, 384,  3, pad=1)
            self.conv4 = L.Convolution2D(None, 384,  3, pad=1)
            self.conv5 = L.Convolution2D(None, 256,  3, pad=1)
            self.fc6 = L.Linear(None, 4096)
            self.fc7 = L.Linear(None, 4096)
            self.fc8 = L.Linear(None, 1000)

    def forward(self, x, t):
        h = F.max_pooling_2d(F.local_response_normalization(
            F.relu(self.conv1(x))), 3, stride=2)
        h = F.max_pooling_2d(F.local_response_normalization(
            F.relu(self.conv2(h))), 3, stride=2)
        h = F.relu(self.conv3(h))
        h = F.relu(self.conv4(h))
        h = F.max_pooling_2d(F.relu(self.conv5(h)), 3, stride=2)
        h = F.dropout(F.relu(self.fc6(h)))
        h = F.dropout(F.relu(self.fc7(h)))
        h = self.fc8(h)

        loss = F.softmax_cross_entropy(h, t)
        chainer.report({'loss': loss, 'accuracy': F.accuracy(h, t)}, self)
        return loss
# ---------------------------------------------------------------------------------------------


def alex_logits(model, x):
    """Alex.forward up to fc8 (same calls as the class)."""
    h = F.max_pooling_2d(F.local_response_normalization(
        F.relu(model.conv1(x))), 3, stride=2)
    h = F.max_pooling_2d(F.local_response_normalization(
        F.relu(model.conv2(h))), 3, stride=2)
    h = F.relu(model.conv3(h))
    h = F.relu(model.conv4(h))
    h = F.max_pooling_2d(F.relu(model.conv5(h)), 3, stride=2)
    h = F.dropout(F.relu(model.fc6(h)))
    h = F.dropout(F.relu(model.fc7(h)))
    return model.fc8(h)


def common():
    return {"chainer_version": np.array(chainer.__version__),
            "numpy_version": np.array(np.__version__)}


def f32(rs, *shape):
    return rs.standard_normal(shape).astype(np.float32)


def distinct_f32(rs, *shape):
    """Normal draws, redrawn until no two values are equal (no ties in max pooling)."""
    while True:
        a = f32(rs, *shape)
        if np.unique(a).size == a.size:
            return a


def save(name, arrays):
    path = os.path.join(OUT_DIR, name)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def apply_with_grad(fn, inputs, gy):
    """y = fn(*vars); backprop gy; returns (y, [grads of inputs])."""
    vs = [chainer.Variable(a.copy()) for a in inputs]
    y = fn(*vs)
    y.grad = gy.copy()
    y.backward()
    return y.array, [v.grad for v in vs]


# --------------------------------------------------------------------------------------------- LRN
def make_lrn():
    cases = [(5, 2, 1e-4, 0.75), (5, 2, 0.5, 0.75), (3, 1, 0.3, 0.5),
             (4, 2, 0.2, 0.75), (7, 0.5, 1.0, 1.5), (6, 1, 0.4, 0.75)]
    out = common()
    out["n_cases"] = np.array(len(cases))
    for i, (n, k, alpha, beta) in enumerate(cases):
        rs = np.random.RandomState(100 + i)
        x = f32(rs, 2, 7, 3, 4)
        gy = f32(rs, 2, 7, 3, 4)
        y, (gx,) = apply_with_grad(
            lambda v: F.local_response_normalization(v, n=n, k=k, alpha=alpha, beta=beta),
            [x], gy)
        p = f"case{i}/"
        out[p + "params"] = np.array([n, k, alpha, beta], dtype=np.float64)
        out[p + "x"], out[p + "y"], out[p + "gy"], out[p + "gx"] = x, y, gy, gx
    save("lrn.npz", out)
    return out


# ----------------------------------------------------------------------------------------- pooling
def make_pooling():
    cases = [(7, 7, 3, 2, 0, True), (7, 7, 3, 2, 0, False), (6, 6, 3, 2, 0, True),
             (6, 6, 3, 2, 0, False), (8, 5, 2, None, 0, True), (9, 9, 3, 2, 1, True),
             (9, 9, 3, 2, 1, False), (5, 7, 3, 3, 1, True), (55, 55, 3, 2, 0, True),
             (54, 54, 3, 2, 0, True), (54, 54, 3, 2, 0, False), (13, 13, 3, 2, 0, True)]
    out = common()
    out["n_cases"] = np.array(len(cases))
    for i, (h, w, ks, st, pad, cover_all) in enumerate(cases):
        rs = np.random.RandomState(200 + i)
        x = distinct_f32(rs, 2, 3, h, w)
        y0 = F.max_pooling_2d(x, ks, stride=st, pad=pad, cover_all=cover_all).array
        gy = f32(rs, *y0.shape)
        y, (gx,) = apply_with_grad(
            lambda v: F.max_pooling_2d(v, ks, stride=st, pad=pad, cover_all=cover_all), [x], gy)
        p = f"case{i}/"
        out[p + "params"] = np.array(
            [h, w, ks, -1 if st is None else st, pad, int(cover_all)], dtype=np.int64)
        out[p + "x"], out[p + "y"], out[p + "gy"], out[p + "gx"] = x, y, gy, gx
    save("pooling.npz", out)
    return out


# --------------------------------------------------------------------------------------------- BN
def make_batchnorm():
    out = common()
    bn = L.BatchNormalization(5)
    rs = np.random.RandomState(300)
    gamma = (1.0 + 0.5 * rs.standard_normal(5)).astype(np.float32)
    beta = (0.5 * rs.standard_normal(5)).astype(np.float32)
    bn.gamma.array[...] = gamma
    bn.beta.array[...] = beta
    out["eps"] = np.array(bn.eps)
    out["decay"] = np.array(bn.decay)
    out["gamma"], out["beta"] = gamma, beta
    for s in range(3):
        # non-zero means and non-unit scales so running-stat updates are visible
        x = (f32(rs, 8, 5) * np.float32(2.0) + np.float32(1.0 + s)).astype(np.float32)
        xv = chainer.Variable(x.copy())
        y = bn(xv)
        p = f"step{s}/"
        out[p + "x"], out[p + "y"] = x, y.array.copy()
        if s == 0:
            gy = f32(rs, 8, 5)
            bn.cleargrads()
            y.grad = gy.copy()
            y.backward()
            out[p + "gy"], out[p + "gx"] = gy, xv.grad
            out[p + "ggamma"], out[p + "gbeta"] = bn.gamma.grad.copy(), bn.beta.grad.copy()
        out[p + "avg_mean"] = bn.avg_mean.copy()
        out[p + "avg_var"] = bn.avg_var.copy()
    x_test = (f32(rs, 8, 5) * np.float32(2.0) + np.float32(1.5)).astype(np.float32)
    with chainer.using_config("train", False):
        y_test = bn(x_test).array
    out["x_test"], out["y_test"] = x_test, y_test
    save("batchnorm.npz", out)
    return out


# ------------------------------------------------------------------------------------------- conv
def make_conv():
    cases = [(1, 8, 8, 3, 5, 1, 0), (3, 9, 9, 4, 3, 2, 1), (2, 7, 6, 2, 3, 1, 2),
             (3, 11, 11, 2, 5, 3, 0)]
    out = common()
    out["n_cases"] = np.array(len(cases))
    for i, (c, h, w, o, k, st, pad) in enumerate(cases):
        rs = np.random.RandomState(400 + i)
        x = f32(rs, 2, c, h, w)
        W = (f32(rs, o, c, k, k) * np.float32(np.sqrt(1.0 / (c * k * k)))).astype(np.float32)
        b = (0.1 * f32(rs, o)).astype(np.float32)
        y0 = F.convolution_2d(x, W, b, stride=st, pad=pad).array
        gy = f32(rs, *y0.shape)
        y, (gx, gW, gb) = apply_with_grad(
            lambda xv, Wv, bv: F.convolution_2d(xv, Wv, bv, stride=st, pad=pad), [x, W, b], gy)
        p = f"case{i}/"
        out[p + "params"] = np.array([c, h, w, o, k, st, pad], dtype=np.int64)
        for key, val in (("x", x), ("W", W), ("b", b), ("y", y), ("gy", gy), ("gx", gx),
                         ("gW", gW), ("gb", gb)):
            out[p + key] = val
    save("conv.npz", out)
    return out


# ---------------------------------------------------------------------------------------- AlexNet
def npz_keys_shapes(obj):
    """Keys, padded shapes and dtypes of what chainer.serializers.save_npz writes, keys sorted.

    save_npz's own key order follows Python set iteration (Link._params, Chain._children are
    sets) and so depends on PYTHONHASHSEED; the keys are sorted here to keep the fixture stable.
    """
    buf = io.BytesIO()
    chainer.serializers.save_npz(buf, obj, compression=False)
    buf.seek(0)
    with np.load(buf, allow_pickle=True) as z:
        names = sorted(z.files)
        arrs = [z[n] for n in names]
    shapes = np.full((len(names), 4), -1, dtype=np.int64)
    for j, a in enumerate(arrs):
        assert a.ndim <= 4, (names[j], a.shape)
        shapes[j, :a.ndim] = a.shape
    dtypes = np.array([a.dtype.str for a in arrs])
    return np.array(names), shapes, dtypes


def load_alex(weights):
    model = Alex()
    for name, param in model.namedparams():
        key = name.lstrip("/")
        w = weights[key]
        if param.array is None:
            param.initialize(w.shape)
        assert param.shape == w.shape, (key, param.shape, w.shape)
        param.array[...] = w
    return model


CAPTURE = "_capture_snapshot_keys"


def trainer_snapshot_keys(weights, x, t):
    """Keys of save_npz(trainer) after one iteration of a train_imagenet.py-like trainer."""
    model = load_alex(weights)
    train = chainer.datasets.TupleDataset(x, t)
    try:
        train_iter = chainer.iterators.MultiprocessIterator(train, 2, n_processes=1)
        val_iter = chainer.iterators.MultiprocessIterator(train, 2, repeat=False,
                                                          n_processes=1)
    except Exception as e:  # pragma: no cover - environment-dependent
        print(f"MultiprocessIterator unavailable ({e!r}); using SerialIterator")
        train_iter = chainer.iterators.SerialIterator(train, 2)
        val_iter = chainer.iterators.SerialIterator(train, 2, repeat=False)
    optimizer = chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
    optimizer.setup(model)
    with tempfile.TemporaryDirectory() as outdir:
        updater = training.updaters.StandardUpdater(train_iter, optimizer)
        trainer = training.Trainer(updater, (1, "iteration"), outdir)
        val_interval = (100000, "iteration")
        log_interval = (1000, "iteration")
        trainer.extend(extensions.Evaluator(val_iter, model), trigger=val_interval)
        trainer.extend(extensions.DumpGraph("main/loss"))
        trainer.extend(extensions.snapshot(), trigger=val_interval)
        trainer.extend(extensions.snapshot_object(model, "model_iter_{.updater.iteration}"),
                       trigger=val_interval)
        trainer.extend(extensions.LogReport(trigger=log_interval))
        trainer.extend(extensions.observe_lr(), trigger=log_interval)
        trainer.extend(extensions.PrintReport(
            ["epoch", "iteration", "main/loss", "validation/main/loss",
             "main/accuracy", "validation/main/accuracy", "lr"]), trigger=log_interval)
        trainer.extend(extensions.ProgressBar(update_interval=10))
        captured = {}

        # Serialise the trainer inside run() after iteration 1, as extensions.snapshot() would
        # (after run() the MultiprocessIterator is finalized and can no longer be serialised).
        @training.make_extension(trigger=(1, "iteration"), priority=-100)
        def capture_keys(tr):
            captured["keys"] = npz_keys_shapes(tr)

        trainer.extend(capture_keys, name=CAPTURE)
        trainer.run()
    names, shapes, dtypes = captured["keys"]
    keep = np.array([CAPTURE not in n for n in names])  # drop the capture hook's own trigger
    return names[keep], shapes[keep], dtypes[keep], type(train_iter).__name__


def make_alexnet():
    out = common()
    weights = alex_weights.chainer_alex_weights(0)
    x, t = alex_weights.alex_inputs(1)
    model = load_alex(weights)
    names, shapes, _ = npz_keys_shapes(model)
    out["param_names"], out["param_shapes"] = names, shapes
    n_params = int(sum(p.size for p in model.params()))
    assert n_params == alex_weights.ALEX_N_PARAMS, n_params
    assert list(names) == list(alex_weights.ALEX_SHAPES), list(names)
    out["n_params"] = np.array(n_params, dtype=np.int64)
    out["labels"] = t
    out["x_sum"] = np.array(x.astype(np.float64).sum())
    out["weight_sums"] = np.array([weights[n].astype(np.float64).sum() for n in names])
    out["weights_sha256"] = np.array(hashlib.sha256(
        b"".join(np.ascontiguousarray(weights[n]).tobytes() for n in names)).hexdigest())
    out["x_sha256"] = np.array(hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest())

    with chainer.using_config("train", False):
        logits = alex_logits(model, x).array
        model.cleargrads()
        loss = model(x, t)
        loss.backward()
    ref_loss = F.softmax_cross_entropy(logits, t).array
    assert abs(float(ref_loss) - float(loss.array)) < 1e-5, (ref_loss, loss.array)
    out["logits"] = logits
    out["loss"] = np.array(loss.array)
    g = {name.lstrip("/"): p.grad for name, p in model.namedparams()}
    for key in ("conv1/b", "conv5/b", "fc6/b", "fc7/b", "fc8/b"):
        out["grad/" + key] = g[key].copy()
    for key, n in (("conv1/W", 4), ("conv2/W", 2), ("conv5/W", 2), ("fc6/W", 3), ("fc8/W", 3)):
        out[f"grad/{key}[:{n}]"] = g[key][:n].copy()
    del model, g, loss

    sn, ss, sd, it = trainer_snapshot_keys(weights, x, t)
    out["snapshot_names"], out["snapshot_shapes"], out["snapshot_dtypes"] = sn, ss, sd
    out["snapshot_iterator"] = np.array(it)
    save("alexnet.npz", out)
    return out


def main():
    assert chainer.__version__ == "7.8.1", chainer.__version__
    assert not chainer.backends.intel64.is_ideep_available() or \
        chainer.config.use_ideep == "never"
    os.makedirs(OUT_DIR, exist_ok=True)
    only = sys.argv[1:]
    makers = {"lrn": make_lrn, "pooling": make_pooling, "batchnorm": make_batchnorm,
              "conv": make_conv, "alexnet": make_alexnet}
    for name, fn in makers.items():
        if not only or name in only:
            fn()


if __name__ == "__main__":
    main()
