#!/usr/bin/env bash
# Run every test: build the book (the HTML tests read _build/html), then pytest runs the unit
# tests and executes every notebook under labs/ with nbval (the build already executed every chapter),
# then the property tests again with fresh random examples. Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/system-packages.sh tests  # Chromium, CJK fonts, bubblewrap where apt can install them
bash scripts/build-book.sh
.venv/bin/python -m pytest "$@"
# The suite draws the same examples on every run; this run draws new ones, 3x as many, to find what
# they miss (the explore profile in tests/conftest.py; about 70 s on two cores). A failure prints the
# @reproduce_failure line that replays it.
.venv/bin/python -m pytest -q -m hypothesis --hypothesis-profile=explore "$@" || [ $? -eq 5 ]  # 5: no property test selected
