"""Functional ops and small layers with reference semantics."""

from jaxdl.nn.batchnorm import CONVENTIONS as BATCHNORM_CONVENTIONS, BatchNorm, BatchNormConvention
from jaxdl.nn.dropout import Dropout, course_dropout, inverted_dropout, keep_mask
from jaxdl.nn.initializers import course_std, normal

__all__ = [
    "BATCHNORM_CONVENTIONS", "BatchNorm", "BatchNormConvention", "Dropout", "course_dropout",
    "course_std", "inverted_dropout", "keep_mask", "normal",
]
