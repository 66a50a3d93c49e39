#!/usr/bin/env bash
# Set-up shared by the README's commands: a virtual environment in .venv with the pinned
# requirements and cnnlab installed editable. It reinstalls only when requirements.txt or
# pyproject.toml changed, so a second run costs a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi

stamp=.venv/.cnnlab-setup
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing requirements.txt and cnnlab into .venv"
    .venv/bin/python -m pip install --quiet -r requirements.txt
    .venv/bin/python -m pip install --quiet --no-deps -e .
    .venv/bin/python -m pip check
    # Build matplotlib's font cache now: a first import inside a notebook would say so on stderr,
    # and the book treats any stderr output as an error.
    .venv/bin/python -c "import matplotlib.pyplot" 2>/dev/null
    echo "$want" > "$stamp"
fi
# cnnlab.numpy.fast's numba loops: compiled once here into cnnlab/numpy/__pycache__ (seconds), so that no
# notebook or test pays for it; when already compiled this only loads them (under a second).
.venv/bin/python -c "
from cnnlab.numpy import fast
done = fast.compile_kernels()
if done.get('compiled'):
    print(f\"setup: compiled cnnlab.numpy.fast's numba loops ({done['seconds']:.1f} s)\")
"
