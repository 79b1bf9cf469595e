#!/usr/bin/env bash
# Install (if needed) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export HF_HUB_OFFLINE=1
.venv/bin/python -m srllm models --prepare  # converts the embedded model once (one line)
# the tests read that conversion; everything else they write goes to temporary folders
export SRLLM_TEST_CACHE="${SRLLM_CACHE:-$HOME/.cache/srllm}"
.venv/bin/ruff check .
.venv/bin/python -m pytest -q --durations=15 "$@"
