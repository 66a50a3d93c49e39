#!/usr/bin/env bash
# On a machine with a CUDA GPU and torch installed: the GPU tests (every torch-cuda case of the suite)
# and issue 15's GPU rows (benchmarks/speed.py --cuda). Uses the machine's own python3 and packages;
# the log goes to $OUT (or ./gpu-check-out) as gpu_check.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-gpu-check-out}; mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
{
  nvidia-smi -L
  python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
  # -o addopts=: the repository's addopts name nbval, which a GPU image may lack; -n: pytest-xdist when there
  workers=$(python3 -c "import xdist" 2>/dev/null && echo "-n 8")
  python3 -m pytest -q -o addopts= -p no:cacheprovider $workers tests/torch tests/ops tests/numpy tests/test_training.py -k "cuda or devices"
  echo "pytest rc $?"
  python3 benchmarks/speed.py --cuda
} 2>&1 | tee "$out/gpu_check.log"
