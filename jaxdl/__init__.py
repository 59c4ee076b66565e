"""jaxdl: classic deep-learning experiments in JAX, exact to their Chainer and course references."""

__version__ = "0.1.0"
