#!/usr/bin/env bash
# The accelerator check, one script: the GPU-relevant tests, then the AlexNet benchmark grid.
#
#   bash experiments/device_check.sh OUT            # on a GPU/TPU machine (at most 8 minutes)
#   bash experiments/device_check.sh OUT --cpu      # the same, CI-sized, on CPU
#
# Installs nothing and reaches no network. Needs jax (with its accelerator plugin), flax, optax,
# orbax-checkpoint, matplotlib, pillow, pytest; torch is optional (PyTorch side by side when the
# interpreter imports it). Everything it writes goes under OUT: tests.log, benchmark/ (float32 as
# TF32 at default precision, float32 at highest precision, bfloat16; batch 128 and 256),
# benchmark_fp32_highest/, benchmark_pipeline/, and benchmark_torch/ when the interpreter has torch.
set -u -o pipefail
OUT=${1:?usage: bash experiments/device_check.sh OUT [--cpu]}
MODE=${2:-}
PY=${PYTHON:-$(command -v python || command -v python3)}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)  # absolute: the script works from the repository root
cd "$(dirname "$0")/.."
export JAXDL_DATA_DIR=${JAXDL_DATA_DIR:-../shared/data/mnist}
[ -d "$JAXDL_DATA_DIR" ] || export JAXDL_SKIP_DATA_TESTS=1  # no MNIST here: its tests skip, saying so
if [ "$MODE" = "--cpu" ]; then
  export JAX_PLATFORMS=cpu
  BATCHES="4"; STEPS="--warmup 1 --steps 2"; TESTS="tests/test_bench_benchmark.py"
else
  BATCHES="128 256"; STEPS="--warmup 3 --steps 20"; TESTS="tests/test_alexnet.py tests/test_lrn.py tests/test_pooling.py tests/test_conv* tests/test_mixed_precision.py tests/test_bench_benchmark.py"
fi
echo "device_check: $($PY -c 'import jax; print(jax.devices())') -> $OUT"
# Worst case 120 + 150 + 120 + 40 + 50 s = 8 minutes; each step's timeout keeps what the others wrote.
# Parity tests with float32 matmuls at full precision (no TF32), as the CPU references compute.
JAX_DEFAULT_MATMUL_PRECISION=highest timeout 120 $PY -m pytest -q -x -m "not slow" $TESTS -p no:cacheprovider \
  > "$OUT/tests.log" 2>&1; echo "tests: exit $? (tail of $OUT/tests.log:)"; tail -3 "$OUT/tests.log"
# The grid: float32 (TF32 at default precision on A100/H100/H200) and bfloat16, two batch sizes.
timeout 150 $PY -m experiments.benchmark --models alexnet --batch-sizes $BATCHES --dtypes float32 bfloat16 $STEPS \
  --out "$OUT/benchmark"; echo "benchmark: exit $?"
# PyTorch side by side (eager and torch.compile, float32 and bfloat16 autocast) when this Python has torch.
if $PY -c "import torch" 2>/dev/null; then
  timeout 120 $PY -m experiments.benchmark --models alexnet --batch-sizes ${BATCHES%% *} --dtypes float32 bfloat16 \
    $STEPS --torch-python "$PY" --torch-modes eager compile --out "$OUT/benchmark_torch"; echo "benchmark (torch): exit $?"
fi
timeout 40 $PY -m experiments.benchmark --models alexnet --batch-sizes ${BATCHES%% *} --dtypes float32 \
  --matmul-precision highest $STEPS --out "$OUT/benchmark_fp32_highest"; echo "benchmark (highest precision): exit $?"
timeout 50 $PY -m experiments.benchmark --models alexnet --batch-sizes ${BATCHES%% *} --dtypes bfloat16 --input pipeline \
  $STEPS --out "$OUT/benchmark_pipeline"; echo "benchmark (pipeline input): exit $?"
