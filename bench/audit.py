"""Wall time of the default audit, and where the time goes.

The default audit: every prompt of the ``default`` set (quality of service + stereotype
probing), models ``base`` and ``tuned``, greedy, 64 new tokens, scored and stored in a fresh
DuckDB file, exactly as ``python -m srllm audit --prompts default --models base,tuned`` runs it.
The stages are timed by wrapping the pipeline's own functions (model loading, scoring, the
store's writes); generation is the rest of the wall time.

Usage: ``python bench/audit.py [--limit N] [--models base,tuned] [--db PATH] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

import srllm.pipeline as pipeline
from srllm.config import GenerationConfig, RunConfig
from srllm.models import load_model
from srllm.store import Store


def main() -> None:
    """Run the audit once and print the wall time split by stage."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", default="default")
    ap.add_argument("--models", default="base,tuned")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--db", default=None, help="default: a new file in a temporary folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    spent = {"load": 0.0, "score": 0.0, "store": 0.0}

    def timed(key: str, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - t0

        return wrapper

    pipeline.score_rows = timed("score", pipeline.score_rows)
    Store.add_generations = timed("store", Store.add_generations)
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "audit.duckdb"
    cfg = RunConfig(
        prompts=args.prompts,
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        limit=args.limit,
        generation=GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
    )
    res = pipeline.run_audit(cfg, db, loader=timed("load", load_model))
    gens = Store(db).generations(res.run_id)
    # add_generations includes the scoring it was handed; scoring runs before it, outside.
    generation_s = res.seconds - spent["load"] - spent["score"] - spent["store"]
    out = {
        "device": "cuda:" + torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "prompts": args.prompts,
        "models": list(cfg.models),
        "generations": gens.height,
        "new_tokens": int(gens["n_tokens"].sum()),
        "max_new_tokens": args.max_new_tokens,
        "errors": res.errors,
        "wall_s": round(res.seconds, 1),
        "stages_s": {
            "load_models": round(spent["load"], 1),
            "generate": round(generation_s, 1),
            "score": round(spent["score"], 1),
            "store": round(spent["store"], 1),
        },
        "generated_tokens_per_s": round(int(gens["n_tokens"].sum()) / max(generation_s, 1e-9), 1),
        "db": str(db),
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"{out['generations']:,} generations ({out['new_tokens']:,} tokens) on {out['device']}"
        )
        print(
            f"wall {out['wall_s']} s: "
            + ", ".join(f"{k} {v} s" for k, v in out["stages_s"].items())
        )
        print(f"generation {out['generated_tokens_per_s']} tokens/s; store {db}")


if __name__ == "__main__":
    main()
