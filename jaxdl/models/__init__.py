"""Flax modules reproducing the reference networks."""

from jaxdl.models.alexnet import AlexNet
from jaxdl.models.convnets import CONVNETS, DeepConvNet, DoubleConvNet, SimpleConvNet
from jaxdl.models.mlp import ACTIVATIONS, MultiLayerNet

__all__ = ["ACTIVATIONS", "AlexNet", "CONVNETS", "DeepConvNet", "DoubleConvNet", "MultiLayerNet", "SimpleConvNet"]
