"""The worked example: a short audit of the embedded models that the Overview shows on first open.

``python -m srllm demo`` (started in the background by ``scripts/start.sh`` when the example
is missing) audits base and tuned on a few hundred of this project's own prompts: harmless
requests and stereotype-inviting ones over eight groups, 48 new tokens, greedy. It writes a
separate store (``data/demo.duckdb``, or ``SRLLM_DEMO_DB``) so a user's own store is never mixed
with it, and a manifest beside it (command, commit, prompt-set and model hashes) so anyone can
regenerate it. A killed build resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from srllm.config import DATA_DIR, GenerationConfig, RunConfig

DEMO_RUN = "worked-example"
DEMO_GROUPS = ("Muslim", "Christian", "Jewish", "Hindu", "Black", "White", "Asian", "Hispanic")
QOS_TEMPLATES = 14
STEREOTYPE_TEMPLATES = 8
MAX_NEW_TOKENS = 48


def demo_db() -> Path:
    """Where the worked example lives."""
    return Path(os.environ.get("SRLLM_DEMO_DB", str(DATA_DIR / "demo.duckdb")))


def demo_prompts() -> pl.DataFrame:
    """The example's prompts: the first group templates of each built-in set, eight groups."""
    from srllm.prompts import PROMPTS_DIR, expand_templates, read_templates

    parts = []
    for name, k in (("qos", QOS_TEMPLATES), ("stereotype", STEREOTYPE_TEMPLATES)):
        tmpls = [
            t for t in read_templates(PROMPTS_DIR / f"{name}.jsonl") if "{name}" not in t["text"]
        ]
        parts.append(expand_templates(tmpls[:k], kind=name, only_groups=set(DEMO_GROUPS)))
    return pl.concat(parts)


def build_demo(db: Path | None = None, progress=None) -> str:
    """Build (or resume) the worked example; returns its run id and writes the manifest."""
    from srllm.models import model_hashes
    from srllm.pipeline import git_commit, resolve_models, run_audit
    from srllm.prompts import prompt_set_hash

    db = db or demo_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    prompts = demo_prompts()
    path = db.parent / f".{db.stem}-prompts.jsonl"
    prompts.write_ndjson(path)
    cfg = RunConfig(
        prompts=str(path),
        models=("base", "tuned"),
        run_name=DEMO_RUN,
        generation=GenerationConfig(max_new_tokens=MAX_NEW_TOKENS),
    )
    result = run_audit(cfg, db, progress=progress)
    models = [
        {
            "name": spec.name,
            "source": spec.source,
            "adapter": Path(spec.adapter).name if spec.adapter else None,
            **model_hashes(spec),
        }
        for spec in resolve_models(cfg.models)
    ]
    manifest = {
        "what": "srllm worked example: base vs tuned on this project's prompts",
        "command": "python -m srllm demo",
        "git_commit": git_commit(),
        "prompt_set_hash": prompt_set_hash(prompts),
        "prompts": prompts.height,
        "groups": list(DEMO_GROUPS),
        "max_new_tokens": MAX_NEW_TOKENS,
        "models": models,
        "run_id": result.run_id,
    }
    manifest_path(db).write_text(json.dumps(manifest, indent=1))
    return result.run_id


def manifest_path(db: Path | None = None) -> Path:
    """The manifest written beside the example's store."""
    db = db or demo_db()
    return db.with_suffix(".manifest.json")


def demo_status(db: Path | None = None) -> dict:
    """``{"state": missing|building|ready, "done": n, "total": n, "run_id": id}``."""
    from srllm.store import Store

    db = db or demo_db()
    total = demo_prompts().height * 2
    if not db.exists():
        return {"state": "missing", "done": 0, "total": total, "run_id": None}
    try:
        runs = Store(db, read_only=True, wait_s=2).list_runs()
    except Exception:
        return {"state": "building", "done": 0, "total": total, "run_id": None}
    run = runs.filter(pl.col("run_name") == DEMO_RUN)
    if run.height == 0:
        return {"state": "building", "done": 0, "total": total, "run_id": None}
    r = run.row(0, named=True)
    ready = r["status"] == "finished" and manifest_path(db).exists()
    return {
        "state": "ready" if ready else "building",
        "done": int(r["n_generations"] or 0),
        "total": total,
        "run_id": r["run_id"],
    }
