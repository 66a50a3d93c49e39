#!/usr/bin/env bash
# Build the HTML book into _build/html: strict (-W -n --keep-going), offline (MathJax served from
# the build), every notebook executed (unchanged ones come from the execution cache).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/system-packages.sh book  # npm, for MathJax

mathjax_version=3.2.2
static=.cache/book_static  # html_static_path in _config.yml
if [ "$(cat $static/mathjax/.version 2>/dev/null)" != "$mathjax_version" ]; then
    echo "build-book: installing MathJax $mathjax_version from the npm registry"
    npm install --silent --no-audit --no-fund --prefix .cache/npm "mathjax@$mathjax_version"
    rm -rf $static/mathjax && mkdir -p $static
    cp -r .cache/npm/node_modules/mathjax/es5 $static/mathjax
    echo "$mathjax_version" > $static/mathjax/.version
fi

# --all re-reads every page, so every warning is reported again (-W holds only on full builds).
.venv/bin/jupyter-book build --all -W -n --keep-going .
