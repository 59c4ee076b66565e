"""Deterministic AlexNet weights and inputs in Chainer layouts (pure NumPy).

Shared by the Chainer fixture generator (tests/oracles/make_chainer_fixtures.py, run under
Chainer 7.8.1) and by the JAX tests, so both sides start from bit-identical float32 arrays.
Only numpy.random.RandomState (the legacy, version-stable stream) is used, so the values are
the same under NumPy 1.x and 2.x.

Layouts are Chainer's: convolution W is (out, in, kh, kw) for NCHW inputs, Linear W is
(out, in) and fc6 consumes the pool5 output flattened in C,H,W order (256*6*6 = 9216).
"""

import numpy as np

# Parameter names and shapes of examples/imagenet/alex.py class Alex, in Chainer's
# model.namedparams() / model.params() order (children sorted by name, then W before b).
# Note: serializers.save_npz writes the same keys in Python set-iteration order (Link._params and
# Chain._children are sets), which changes with PYTHONHASHSEED; only the key set is stable.
ALEX_SHAPES = {
    "conv1/W": (96, 3, 11, 11),
    "conv1/b": (96,),
    "conv2/W": (256, 96, 5, 5),
    "conv2/b": (256,),
    "conv3/W": (384, 256, 3, 3),
    "conv3/b": (384,),
    "conv4/W": (384, 384, 3, 3),
    "conv4/b": (384,),
    "conv5/W": (256, 384, 3, 3),
    "conv5/b": (256,),
    "fc6/W": (4096, 9216),
    "fc6/b": (4096,),
    "fc7/W": (4096, 4096),
    "fc7/b": (4096,),
    "fc8/W": (1000, 4096),
    "fc8/b": (1000,),
}

ALEX_N_PARAMS = 62378344
ALEX_INSIZE = 227
BIAS_STD = 0.01


def chainer_alex_weights(seed: int = 0) -> dict:
    """All Alex parameters as float32 arrays in Chainer layouts, keyed like ALEX_SHAPES.

    Weights are LeCun-scaled normal draws (std sqrt(1/fan_in), fan_in = in*kh*kw, untruncated,
    like Chainer's default LeCunNormal); biases are N(0, 0.01^2) so bias gradients are not trivial.
    One RandomState(seed) is consumed in ALEX_SHAPES order.
    """
    rs = np.random.RandomState(seed)
    out = {}
    for name, shape in ALEX_SHAPES.items():
        if name.endswith("/W"):
            fan_in = int(np.prod(shape[1:]))
            std = np.sqrt(1.0 / fan_in)
        else:
            std = BIAS_STD
        out[name] = (rs.standard_normal(shape) * std).astype(np.float32)
    return out


def alex_inputs(seed: int = 1, batch: int = 2) -> tuple:
    """(x, labels): x float32 NCHW (batch, 3, 227, 227) ~ N(0, 1); labels int32 in [0, 1000)."""
    rs = np.random.RandomState(seed)
    x = rs.standard_normal((batch, 3, ALEX_INSIZE, ALEX_INSIZE)).astype(np.float32)
    labels = rs.randint(0, 1000, size=batch, dtype=np.int64).astype(np.int32)
    return x, labels
