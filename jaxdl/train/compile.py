"""XLA compile options for jaxdl's training programs."""

import jax


def compiler_options() -> dict[str, int]:
    """On CPU, LLVM at -O1 instead of -O3: about half the compile time of a training program.

    The heavy work is matmuls and convolutions, which are library calls; -O3 only re-optimises
    the small elementwise fusions around them (measured in experiments/bench_grid.py and
    experiments/bench_optimizers.py).
    """
    return {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else {}
