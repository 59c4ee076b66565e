"""Chainer interop: its npz checkpoints in and out, and Chainer-layout evaluation."""

from jaxdl.chainer.archs import ARCHS, ModelState, get_arch
from jaxdl.chainer.inference import loss_and_grads, predict
from jaxdl.chainer.npz import TRAINER_SNAPSHOT_PREFIX, ChainerFileError, load_npz, save_npz

__all__ = ["ARCHS", "TRAINER_SNAPSHOT_PREFIX", "ChainerFileError", "ModelState", "get_arch",
           "load_npz", "loss_and_grads", "predict", "save_npz"]
