#!/usr/bin/env bash
# Print the built book as one PDF, _build/pdf/cnnlab-book.pdf, with the system Chromium (offline).
# Builds the HTML first when there is none. Arguments go to scripts/build_pdf.py (--html, --out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f _build/html/index.html ] || bash scripts/build-book.sh
bash scripts/setup.sh
.venv/bin/python scripts/build_pdf.py "$@"
