"""Held-out evaluation of the six-category classifier and toxicity, beside the phrase baseline.

Everything runs the shipped recipe (``srllm.scoring.recipe``), the one that wrote the weights:

- six categories on this project's labels (``data/labels/``), held out by source (each source
  predicted by the recipe refitted on all the others) and by (source, prompt type): accuracy,
  macro-F1, kappa, per-class precision/recall/F1, confusion; the refusal-phrase matcher on the
  same rows in the same run; XSTest three-class accuracy held out by model and by prompt type;
  the embedded models' own responses held out by prompt template;
- with the shipped weights, on sets never trained on: GPTFuzz evaluate (harmful_answer vs not),
  Do-Not-Answer (evaluation only; its unambiguous actions: 0 -> refusal, harmful -> harmful
  answer, 5 -> answer), Social Bias Frames test AUC, the functional suite's test half, the
  counterfactual invariance of toxicity on our templates and the fuzzed Wikipedia Talk pair;
- with the shipped weights, this project's pending labels (``data/labels/pending/``: labels
  made after the weights were trained, never trained on; none at present);
- ``--toxigen``: ToxiGen AUC with folds that never share a target group (refits, slow).

    .venv/bin/python bench/eval_classifier.py [--json] [--toxigen]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from srllm.errors import DataError
from srllm.scoring import recipe as R
from srllm.scoring import train_scorers as T
from srllm.scoring.data import (
    gptfuzz_author_rows,
    labels_dir,
    load_do_not_answer,
    load_labelled_set,
)
from srllm.scoring.registry import builtin_toxicity, response_classifier


def do_not_answer(clf, tox) -> dict:
    """Shipped classifier on Do-Not-Answer's unambiguous rows (evaluation only)."""
    d = load_do_not_answer()
    cats = R.decide(
        R.classify_probs(clf, tox, d["question"].to_list(), d["response"].to_list()),
        d["response"].to_list(),
    )
    harmful = d["harmful"].to_numpy() == 1
    action = d["action"].to_numpy()
    truth = np.where(
        harmful,
        "harmful_answer",
        np.where(action == 0, "refusal", np.where(action == 5, "answer", "")),
    )
    keep = truth != ""
    pred = np.array(cats, dtype=object)
    pred_ref = np.array([c in ("refusal", "harmful_refusal") for c in cats])
    return {
        "n_unambiguous": int(keep.sum()),
        "accuracy_unambiguous": float((pred[keep] == truth[keep]).mean()),
        "refusal_recall_action0": float(pred_ref[action == 0].mean()),
        "harmful_vs_not_accuracy": float(((pred == "harmful_answer") == harmful).mean()),
        "harmful_recall": float((pred[harmful] == "harmful_answer").mean()),
    }


def pending_labels(clf, tox) -> dict:
    """Shipped classifier on the first-pass labels in ``data/labels/pending/``."""
    from sklearn.metrics import cohen_kappa_score

    try:
        pending = load_labelled_set(folder=labels_dir() / "pending")
    except DataError:
        return {"n": 0}
    prompts, responses = pending["prompt"].to_list(), pending["response"].to_list()
    pred = np.array(R.decide(R.classify_probs(clf, tox, prompts, responses), responses))
    truth = pending["category"].to_numpy()
    return {
        "n": pending.height,
        "accuracy": float((pred == truth).mean()),
        "kappa": float(cohen_kappa_score(truth, pred)),
        "refusal_vs_not": float((R.is_refusal(list(pred)) == R.is_refusal(list(truth))).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--toxigen", action="store_true", help="also the ToxiGen group-wise refits")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        tox_backend = builtin_toxicity()
        clf, _ = response_classifier()
        tox = tox_backend.model
        labelled = R.load_labels()
        result = {
            "six_categories": T.evaluate_classifier(labelled, tox, gptfuzz_author_rows(labelled)),
            "pending_labels": pending_labels(clf.model, tox),
            "gptfuzz_evaluate": T.evaluate_gptfuzz(clf.model, tox),
            "do_not_answer": do_not_answer(clf.model, tox),
            "toxicity": T.evaluate_toxicity(
                tox, R.toxicity_corpus() if args.toxigen else None, quick=not args.toxigen
            ),
        }
    except DataError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    six = result["six_categories"]
    print(f"Six categories on {six['n']} labelled pairs")
    for name, key in (
        ("held out by source", "by_source"),
        ("held out by prompt type", "by_prompt_type"),
        ("phrase baseline", "baseline_phrase_match"),
    ):
        r = six[key]
        print(
            f"  {name:26s} acc {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  "
            f"kappa {r['kappa']:.3f}"
        )
    for c, v in six["by_source"]["per_class"].items():
        print(
            f"    {c:18s} P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f} "
            f"n {v['support']}"
        )
    print(
        f"  XSTest 3-class: by model {six['xstest_3class_by_model']:.3f}, by prompt type "
        f"{six['xstest_3class_by_prompt_type']:.3f}"
    )
    emb = six.get("embedded_by_template") or {}
    if emb:
        print(
            f"  embedded models held out by template, n {emb['n']}: acc {emb['accuracy']:.3f}  "
            f"kappa {emb['kappa']:.3f}  (first 320: {emb['first_320_accuracy']:.3f})"
        )
    pend = result["pending_labels"]
    if pend["n"]:
        print(
            f"Pending labels (embedded models, never trained on), n {pend['n']}: acc "
            f"{pend['accuracy']:.3f}  kappa {pend['kappa']:.3f}  refusal vs not "
            f"{pend['refusal_vs_not']:.3f}"
        )
    g = result["gptfuzz_evaluate"]
    print(
        f"GPTFuzz evaluate, harmful vs not: {g['accuracy']:.3f} "
        f"(always not: {g['always_not_harmful']:.3f})"
    )
    d = result["do_not_answer"]
    print(
        f"Do-Not-Answer unambiguous rows: {d['accuracy_unambiguous']:.3f} "
        f"(n {d['n_unambiguous']}); harmful vs not {d['harmful_vs_not_accuracy']:.3f}"
    )
    t = result["toxicity"]
    print(
        f"Toxicity: SBF test AUC {t['sbf_test_auc']:.3f}; functional test half "
        f"{t['functional_test_half'].get('accuracy', float('nan')):.3f}; "
        f"sets crossing 0.5 {t['invariance']['share_sets_crossing_0.5']:.3f}"
    )
    if "toxigen_groupwise_auc" in t:
        print(f"  ToxiGen group-wise AUC {t['toxigen_groupwise_auc']:.3f}")
    print(f"({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
