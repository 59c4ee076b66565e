"""NumPy re-implementations of the reference code, written from its formulas.

They are the oracles of the tests and the baselines of the benchmarks; nothing in them
uses JAX.

- course_numpy: the course's MultiLayerNet and the book's layers (Affine, BatchNormalization, Dropout, ...);
- course_convnet: the book's im2col / col2im, Convolution and Pooling, the course's conv nets;
- optimizers: every optimizer formula (course, chainer, notebook, optax families), the course's
  parameter-subset updates and the gradient penalties; `make("family:name")`;
- course_training: the notebooks' training loop, `train`;
- chainer_numpy: Chainer's LRN, max pooling and inverted dropout from their definitions.
"""
