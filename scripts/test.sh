#!/usr/bin/env bash
# Install (if needed) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
