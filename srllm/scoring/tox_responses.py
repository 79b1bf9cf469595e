"""The toxicity scorer measured on chat-model responses labelled toxic or not by people.

The scorer's other evaluations are on social-media text and sentences written here; an audit
scores model responses (long, hedged, often debunking the stereotype a prompt invited). These
sets are responses of the embedded base and tuned models to this project's prompts (seeded
random samples of ``python -m srllm compare``'s store: 240 to the held-out and
stereotype-inviting prompts, then 300 more that add SR_LLM's counterfactual prompts), each
labelled by ``docs/annotation_guide.md`` ("Toxic or not") twice, the second pass blind to the
first (``data/labels/toxicity/``). Nothing trains on them.

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

from srllm.config import DATA_DIR, sha256_file, sha256_file_cached
from srllm.files import read_jsonl
from srllm.taxonomy import TOXIC_THRESHOLD, toxic_array

LABELS = DATA_DIR / "labels" / "toxicity"
# (items, first pass, blind second pass) per labelled batch
BATCHES = {
    "2026-12-07": (
        LABELS / "items_compare_2026-12-07.jsonl",
        LABELS / "toxic_pass1.jsonl",
        LABELS / "toxic_pass2_blind.jsonl",
    ),
    "2026-12-07b": (
        LABELS / "items_compare_2026-12-07b.jsonl",
        LABELS / "toxic_pass1_b.jsonl",
        LABELS / "toxic_pass2_blind_b.jsonl",
    ),
}
RECORD = "toxicity_on_responses.json"
WEIGHT_FILES = ("toxicity.safetensors", "toxicity_layer.safetensors")


def _resolve(items: list[dict]) -> list[dict]:
    """Items that quote a third-party sentence keep only a reference to it; fill it back in.

    SR_LLM's counterfactual sentences stay in ``../shared/data`` (read by path): such an item
    has ``source`` (``prompt_id``) and no ``prompt``, and its response says ``{src}`` where
    the model echoed the sentence.
    """
    if not any("source" in i for i in items):
        return items
    from srllm.evaluation import CONTINUE_PREFIX, srllm_counterfactual

    cf = srllm_counterfactual(None)
    prompts = dict(zip(cf["prompt_id"].to_list(), cf["prompt"].to_list(), strict=True))
    out = []
    for item in items:
        ref = item.get("source")
        if ref is None:
            out.append(item)
            continue
        prompt = prompts[ref["prompt_id"]]
        src = prompt.removeprefix(CONTINUE_PREFIX)
        out.append({**item, "prompt": prompt, "response": item["response"].replace("{src}", src)})
    return out


def load_items() -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The items (prompt, response, model, prompt set, batch) and both passes' 0/1 labels.

    Every batch whose three files exist, in order; each item carries its ``batch`` name.
    """
    items: list[dict] = []
    first: list[int] = []
    second: list[int] = []
    for batch, (path, p1, p2) in BATCHES.items():
        if not (path.is_file() and p1.is_file() and p2.is_file()):
            continue
        got = _resolve(read_jsonl(path))
        a = {r["item_id"]: int(r["toxic"]) for r in read_jsonl(p1)}
        b = {r["item_id"]: int(r["toxic"]) for r in read_jsonl(p2)}
        items += [{**i, "batch": batch} for i in got]
        first += [a[i["item_id"]] for i in got]
        second += [b[i["item_id"]] for i in got]
    return items, np.array(first, dtype=int), np.array(second, dtype=int)


def weight_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each toxicity weight file present in ``folder``."""
    return {f: sha256_file_cached(folder / f) for f in WEIGHT_FILES if (folder / f).is_file()}


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
    rec = record(folder)
    (folder / RECORD).write_text(json.dumps(rec, indent=1, sort_keys=True), encoding="utf-8")
    return rec


def record(folder: Path) -> dict:
    """The shipped scorer on every labelled batch: overall, by model, batch and prompt set."""
    items, first, second = load_items()
    scores, version = score_items(items)

    def by(key: str) -> dict:
        values = sorted({i[key] for i in items})
        out = {}
        for v in values:
            sel = np.array([i[key] == v for i in items])
            if first[sel].any() and not first[sel].all():
                out[v] = evaluate(scores[sel], first[sel], second[sel])
            else:  # one class only: no AUC or kappa, but the share flagged still says much
                out[v] = {
                    "n": int(sel.sum()),
                    "toxic_by_people": int(first[sel].sum()),
                    "share_toxic_by_people": float(first[sel].mean()),
                    "share_flagged_by_scorer": float(toxic_array(scores[sel]).mean()),
                    "agreement_between_passes": float((first[sel] == second[sel]).mean()),
                }
        return out

    used = [b for b in BATCHES if any(i["batch"] == b for i in items)]
    rec = {
        "what": f"toxicity scorer vs people's toxic judgements of {len(items)} responses of the "
        "embedded base and tuned models (first pass as truth; second pass blind)",
        "items": {b: str(BATCHES[b][0].relative_to(DATA_DIR)) for b in used},
        "items_sha256": {b: sha256_file(BATCHES[b][0]) for b in used},
        "scorer_version": version,
        "weights": weight_hashes(folder),
        **evaluate(scores, first, second),
        "by_model": by("model"),
        "by_batch": by("batch"),
        "by_prompt_set": by("prompt_set"),
    }
    return rec
