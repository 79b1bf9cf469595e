#!/usr/bin/env bash
# Install (if needed) and serve the dashboard on http://localhost:8501 with the embedded models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m srllm models --prepare  # converts the embedded model once (one line)
# The worked example the Overview shows: built once in the background while the dashboard
# already serves (its own store, data/demo.duckdb; a killed build resumes next time).
if [ ! -f data/demo.manifest.json ] && [ -z "${SRLLM_NO_DEMO:-}" ]; then
  nohup .venv/bin/python -m srllm demo >data/demo.log 2>&1 &
fi
exec .venv/bin/python -m ui.serve --server.address "${SRLLM_ADDRESS:-localhost}" \
  --server.port "${SRLLM_PORT:-8501}" --server.headless true --browser.gatherUsageStats false
