#!/usr/bin/env bash
# Run every test: build the book (the HTML tests read _build/html), then pytest runs the unit
# tests and executes every notebook under labs/ with nbval (the build already executed every chapter). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/system-packages.sh tests  # Chromium, CJK fonts, bubblewrap where apt can install them
bash scripts/build-book.sh
.venv/bin/python -m pytest "$@"
