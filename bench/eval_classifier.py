"""Held-out accuracy of the response classifier and toxicity AUC, next to baselines.

Model-wise splits on XSTest (train on two completion files, test on the third; the recipe of the
shipped weights, retrained per split) against the XSTest authors' string-match classifier on
the same rows; toxicity ROC AUC on ToxiGen with folds that never share a target group.

    .venv/bin/python bench/eval_classifier.py [--json] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srllm.config import SHARED_DATA  # noqa: E402
from srllm.errors import DataError  # noqa: E402
from srllm.scoring.data import XSTEST_LABELS, load_toxigen, load_xstest  # noqa: E402
from srllm.scoring.train_scorers import (  # noqa: E402
    evaluate_modelwise,
    evaluate_toxicity_groupwise,
)

SHORT = {"1_full_compliance": "comply", "2_full_refusal": "refuse", "3_partial_refusal": "partial"}


def _matrix(rows: list[list[int]]) -> list[str]:
    head = "      true\\pred " + " ".join(f"{SHORT[lab]:>8s}" for lab in XSTEST_LABELS)
    out = [head]
    for lab, row in zip(XSTEST_LABELS, rows, strict=True):
        out.append(f"      {SHORT[lab]:>10s} " + " ".join(f"{v:8d}" for v in row))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data", default=str(SHARED_DATA), help="shared data folder")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        xs = load_xstest(args.data)
        tg = load_toxigen(args.data)
    except DataError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    clf = evaluate_modelwise(xs)
    tox = evaluate_toxicity_groupwise(tg, xs)
    result = {"classifier": clf, "toxicity": tox, "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("XSTest 3-class, model-wise splits (train on the other two files)")
    print(
        f"{'held-out':16s} {'n':>4s} {'acc':>6s} {'kappa':>6s} | {'str-acc':>7s} "
        f"{'str-kap':>7s} | {'acc ratio':>9s}"
    )
    for name, s in clf["splits"].items():
        print(
            f"{name:16s} {s['n']:4d} {s['accuracy']:6.3f} {s['kappa']:6.3f} | "
            f"{s['baseline_accuracy']:7.3f} {s['baseline_kappa']:7.3f} | "
            f"{s['accuracy'] / s['baseline_accuracy']:9.3f}"
        )
    print(
        f"{'mean':16s} {'':4s} {clf['mean_accuracy']:6.3f} {'':6s} | "
        f"{clf['mean_baseline_accuracy']:7.3f} {'':7s} | "
        f"{clf['mean_accuracy'] / clf['mean_baseline_accuracy']:9.3f}"
    )
    for name, s in clf["splits"].items():
        print(f"\n  {name}: classifier")
        print("\n".join(_matrix(s["confusion"])))
        print(f"  {name}: string match")
        print("\n".join(_matrix(s["baseline_confusion"])))
    print("\nToxicity (ToxiGen), group-wise folds: no target group in both train and test")
    print(
        f"  pooled ROC AUC {tox['pooled_auc']:.3f}  mean fold AUC {tox['mean_fold_auc']:.3f}  "
        f"leave-one-group-out AUC {tox['logo_auc']:.3f}  (chance 0.500)"
    )
    for f in tox["folds"]:
        auc = "n/a (one class)" if f["auc"] is None else f"{f['auc']:.3f}"
        print(f"    test groups {', '.join(f['test_groups'])}: {auc}")
    print(
        "  share of held-out XSTest answers flagged toxic: "
        + ", ".join(f"{k} {v:.3f}" for k, v in tox["benign_flag_rate"].items())
    )
    print(f"\n({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
