#!/usr/bin/env bash
# Install the Debian packages the book and the tests use, where they are missing and apt can:
# npm (MathJax for the book), chromium + fonts-noto-cjk (the browser and PDF tests, Chinese glyphs),
# bubblewrap (the grader's sandbox). Usage: system-packages.sh book | tests. Without root or apt it
# says what is missing and goes on (the browser tests then skip with the reason; the grader refuses).
set -euo pipefail
need=()
command -v npm >/dev/null || need+=(npm)
if [ "${1:-book}" = tests ]; then
    command -v chromium >/dev/null || need+=(chromium)
    fc-list 2>/dev/null | grep "Noto Sans CJK" >/dev/null || need+=(fonts-noto-cjk)  # not grep -q: with pipefail, fc-list would die of SIGPIPE
    command -v bwrap >/dev/null || need+=(bubblewrap)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "system-packages: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
    echo "system-packages: missing ${need[*]} (install them with apt-get as root)" >&2
fi
