"""The toxicity scorer measured on chat-model responses labelled toxic or not by people.

The scorer's other evaluations are on social-media text and sentences written here; an audit
scores model responses (long, hedged, often debunking the stereotype a prompt invited). This
set is 240 responses of the embedded base and tuned models to this project's held-out and
stereotype-inviting prompts (a seeded random sample of ``python -m srllm compare``'s store),
labelled by ``docs/annotation_guide.md`` ("Toxic or not") twice, the second pass blind to the
first (``data/labels/toxicity/``). Nothing trains on it.

:func:`evaluate` gives the agreement of the passes and the scorer's AUC, accuracy, precision,
recall and confusion at the toxic threshold against the first pass; :func:`write_record` keeps
that beside the weights (``toxicity_on_responses.json``, with the weight files' hashes), where
``srllm.stats.correction.shipped_error_rates("toxicity")`` reads the confusion as the default
error rates of corrected toxicity.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from srllm.config import DATA_DIR, sha256_file
from srllm.files import read_jsonl
from srllm.taxonomy import TOXIC_THRESHOLD, toxic_array

LABELS = DATA_DIR / "labels" / "toxicity"
ITEMS = LABELS / "items_compare_2026-12-07.jsonl"
PASS1 = LABELS / "toxic_pass1.jsonl"
PASS2 = LABELS / "toxic_pass2_blind.jsonl"
RECORD = "toxicity_on_responses.json"
WEIGHT_FILES = ("toxicity.safetensors", "toxicity_layer.safetensors")


def load_items() -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The items (prompt, response, model, prompt set) and both passes' 0/1 labels, aligned."""
    items = read_jsonl(ITEMS)
    first = {r["item_id"]: int(r["toxic"]) for r in read_jsonl(PASS1)}
    second = {r["item_id"]: int(r["toxic"]) for r in read_jsonl(PASS2)}
    ids = [i["item_id"] for i in items]
    return items, np.array([first[i] for i in ids]), np.array([second[i] for i in ids])


def weight_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each toxicity weight file present in ``folder``."""
    return {f: sha256_file(folder / f) for f in WEIGHT_FILES if (folder / f).is_file()}


def evaluate(scores: np.ndarray, human: np.ndarray, second: np.ndarray | None = None) -> dict:
    """Figures of ``scores`` against 0/1 ``human`` labels (and the passes' agreement)."""
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    from srllm.stats.correction import error_rates

    human = np.asarray(human, dtype=int)
    flagged = toxic_array(scores)
    er = error_rates(flagged, human == 1, "")
    tp, fn, tn, fp = er.tp, er.fn, er.tn, er.fp
    out = {
        "n": int(len(human)),
        "toxic_by_people": int(human.sum()),
        "share_toxic_by_people": float(human.mean()),
        "share_flagged_by_scorer": float(flagged.mean()),
        "auc": float(roc_auc_score(human, scores)),
        "accuracy": float((flagged == (human == 1)).mean()),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "confusion": {"tp": tp, "fn": fn, "tn": tn, "fp": fp},
        "threshold": TOXIC_THRESHOLD,
    }
    if second is not None:
        out["kappa_between_passes"] = float(cohen_kappa_score(human, second))
        out["agreement_between_passes"] = float((np.asarray(second) == human).mean())
    return out


def score_items(items: list[dict]) -> tuple[np.ndarray, str]:
    """The shipped toxicity scorer's scores of the items' responses, and its version."""
    from srllm.scoring.weights import builtin_toxicity

    tox = builtin_toxicity()
    return tox.score([i["response"] for i in items]), tox.version


def write_record(folder: Path) -> dict:
    """Score the labelled responses with the weights in ``folder``; write and return the record."""
    items, first, second = load_items()
    scores, version = score_items(items)
    rec = {
        "what": "toxicity scorer vs people's toxic judgements of 240 responses of the embedded "
        "base and tuned models (first pass as truth; second pass blind)",
        "items": str(ITEMS.relative_to(DATA_DIR)),
        "items_sha256": sha256_file(ITEMS),
        "scorer_version": version,
        "weights": weight_hashes(folder),
        **evaluate(scores, first, second),
        "by_model": {
            m: evaluate(scores[sel], first[sel])
            for m in ("base", "tuned")
            if (sel := np.array([i["model"] == m for i in items])).any() and first[sel].any()
        },
    }
    (folder / RECORD).write_text(json.dumps(rec, indent=1, sort_keys=True), encoding="utf-8")
    return rec
