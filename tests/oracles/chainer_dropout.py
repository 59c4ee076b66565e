"""Chainer's F.dropout (inverted) as a NumPy layer for `jaxdl.reference.course_numpy` networks.

Train: y = x * mask / (1 - ratio); test: y = x. It takes the course Dropout's `next_mask`
protocol, so `MultiLayerNet.set_dropout_masks` replays masks drawn elsewhere.
"""

import numpy as np


class InvertedDropout:
    def __init__(self, ratio: float):
        self.ratio, self.next_mask = ratio, None

    def forward(self, x, train_flg):
        if not train_flg:
            return x
        self.scale = np.asarray(self.next_mask, np.float64) / (1.0 - self.ratio)
        self.next_mask = None
        return x * self.scale

    def backward(self, dout):
        return dout * self.scale


def use_inverted_dropout(net) -> None:
    """Replace every course Dropout layer of a course_numpy.MultiLayerNet by InvertedDropout."""
    for name, layer in net.layers.items():
        if name.startswith("Dropout"):
            net.layers[name] = InvertedDropout(layer.ratio)
