"""Agreement between the first labelling pass and the blind second pass (data/labels/).

Cohen's kappa over the six categories, and per category (that category vs the rest), on the
items labelled twice. The second annotator saw only the guide and the items.

    .venv/bin/python bench/annotation_agreement.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import cohen_kappa_score, confusion_matrix

from srllm.scoring.data import labels_dir, load_labelled_set
from srllm.taxonomy import CATEGORY_ORDER


def agreement() -> dict:
    """Kappa overall and per category between pass 1 and the blind pass 2."""
    first = dict(load_labelled_set().select("key", "category").iter_rows())
    second = {}
    for path in sorted(labels_dir().glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            if int(rec.get("pass", 1)) == 2:
                second[rec["key"]] = rec["category"]
    keys = [k for k in second if k in first]
    a, b = [first[k] for k in keys], [second[k] for k in keys]
    per = {}
    for c in CATEGORY_ORDER:
        x, y = [v == c for v in a], [v == c for v in b]
        per[c] = {"kappa": float(cohen_kappa_score(x, y)), "n_first": sum(x), "n_second": sum(y)}
    return {
        "n": len(keys),
        "raw_agreement": sum(x == y for x, y in zip(a, b, strict=True)) / len(keys),
        "kappa": float(cohen_kappa_score(a, b, labels=list(CATEGORY_ORDER))),
        "per_category": per,
        "confusion_first_rows_second_cols": confusion_matrix(
            a, b, labels=list(CATEGORY_ORDER)
        ).tolist(),
        "labels": list(CATEGORY_ORDER),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = agreement()
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(
        f"items labelled twice: {res['n']}; raw agreement {res['raw_agreement']:.3f}; "
        f"Cohen's kappa (6 classes) {res['kappa']:.3f}"
    )
    for c, v in res["per_category"].items():
        print(
            f"  {c:18s} kappa {v['kappa']:.3f}  (pass 1: {v['n_first']}, pass 2: {v['n_second']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
