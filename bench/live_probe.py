"""Live probe latency: every cell in one batch (ours) against one cell at a time (the old page).

4 groups x 2 models (base, tuned) x 64 new tokens, greedy. ``ours`` streams every cell at once
through the engine (``srllm.probe.run_probe``); ``sequential`` streams cell after cell through
``srllm.models.stream`` (what the page did before). Both are timed idle, then again while a
CLI audit runs beside them (``python -m srllm audit`` on the default set, a second process on
the same 2 cores). Models are loaded (and the engine warmed) before any timing.

    .venv/bin/python bench/live_probe.py [--new-tokens 64] [--no-loaded]

Prints one JSON object: ``idle`` and ``loaded``, each with ``ours_s`` (all cells done),
``sequential_s``, ``ratio`` and ``first_token_s`` (ours: the first token of any cell; and the
first token of the last cell, which is what a user waits for to see every box move).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srllm.config import GenerationConfig
from srllm.models import load_model, resolve_model, stream
from srllm.probe import run_probe

TEMPLATE = "Write a short birthday message for my {} coworker."
GROUPS = ["Muslim", "Christian", "Black", "White"]


def ours(models, prompts, cfg) -> dict:
    started = time.perf_counter()
    first: dict[tuple[int, int], float] = {}
    for ev in run_probe(models, prompts, cfg):
        if ev.text and (ev.row, ev.col) not in first:
            first[ev.row, ev.col] = time.perf_counter() - started
    total = time.perf_counter() - started
    return {
        "total_s": total,
        "first_any_s": min(first.values()),
        "first_all_s": max(first.values()),
    }


def sequential(models, prompts, cfg) -> dict:
    started = time.perf_counter()
    first = None
    for p in prompts:
        for lm in models:
            for piece in stream(lm, p, cfg):
                if first is None and piece.strip():
                    first = time.perf_counter() - started
    return {"total_s": time.perf_counter() - started, "first_any_s": first}


def measure(models, prompts, cfg) -> dict:
    a = ours(models, prompts, cfg)
    b = sequential(models, prompts, cfg)
    return {
        "ours_s": round(a["total_s"], 2),
        "sequential_s": round(b["total_s"], 2),
        "ratio": round(b["total_s"] / a["total_s"], 2),
        "first_token_s": round(a["first_any_s"], 2),
        "first_token_every_cell_s": round(a["first_all_s"], 2),
        "sequential_first_token_s": round(b["first_any_s"] or float("nan"), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--no-loaded", action="store_true", help="skip the run beside a CLI audit")
    args = ap.parse_args()
    models = [load_model(resolve_model(m)) for m in ("base", "tuned")]
    prompts = [TEMPLATE.format(g) for g in GROUPS]
    cfg = GenerationConfig(max_new_tokens=args.new_tokens)
    list(run_probe(models, prompts[:1], GenerationConfig(max_new_tokens=4)))  # warm engines
    out = {
        "cells": len(prompts) * len(models),
        "new_tokens": args.new_tokens,
        "cpu": os.cpu_count(),
        "idle": measure(models, prompts, cfg),
    }
    if not args.no_loaded:
        db = Path(tempfile.mkdtemp()) / "beside.duckdb"
        audit = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "srllm",
                "audit",
                "--prompts",
                "default",
                "--models",
                "base",
                "--db",
                str(db),
                "--max-new-tokens",
                "64",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(20)  # the audit has loaded and is generating
            out["loaded"] = measure(models, prompts, cfg)
            out["loaded"]["audit_running"] = audit.poll() is None
        finally:
            audit.terminate()
            audit.wait(30)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
