"""Functional ops and small layers with reference semantics."""

from jaxdl.nn.batchnorm import CONVENTIONS as BATCHNORM_CONVENTIONS
from jaxdl.nn.batchnorm import BatchNorm, BatchNormConvention
from jaxdl.nn.conv import Convolution2D, convolution_2d
from jaxdl.nn.course_pooling import course_max_pooling_2d
from jaxdl.nn.dense import dense_dot_general, weight_layout_matmul
from jaxdl.nn.dropout import Dropout, course_dropout, inverted_dropout, keep_mask
from jaxdl.nn.initializers import chainer_he_normal, chainer_lecun_normal, course_std, normal
from jaxdl.nn.lrn import local_response_normalization
from jaxdl.nn.output_size import conv_output_size, pooling_output_size
from jaxdl.nn.pooling import average_pooling_2d, max_pooling_2d

__all__ = [
    "BATCHNORM_CONVENTIONS", "BatchNorm", "BatchNormConvention", "Convolution2D", "Dropout",
    "average_pooling_2d", "chainer_he_normal", "chainer_lecun_normal", "conv_output_size", "convolution_2d",
    "course_dropout", "course_max_pooling_2d",
    "course_std", "dense_dot_general",
    "inverted_dropout", "keep_mask", "local_response_normalization", "max_pooling_2d", "normal",
    "pooling_output_size", "weight_layout_matmul",
]
