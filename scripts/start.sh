#!/usr/bin/env bash
# Install (if needed) and serve the dashboard on http://localhost:8501 with the embedded models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m srllm models >/dev/null  # converts the embedded model once, if needed
exec .venv/bin/streamlit run app.py --server.address "${SRLLM_ADDRESS:-localhost}" \
  --server.port "${SRLLM_PORT:-8501}" --server.headless true --browser.gatherUsageStats false
