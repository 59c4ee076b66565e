"""Flax modules reproducing the reference networks."""

from jaxdl.models.alexnet import AlexNet
from jaxdl.models.mlp import ACTIVATIONS, MultiLayerNet

__all__ = ["ACTIVATIONS", "AlexNet", "MultiLayerNet"]
