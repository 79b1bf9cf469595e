"""The toxicity scorer on chat-model responses people labelled toxic or not.

Responses of the embedded base and tuned models (``data/labels/toxicity/``, two passes,
the second blind): agreement of the passes, and the shipped scorer's AUC, accuracy, precision,
recall and confusion at the toxic threshold against the first pass, overall and per model.
``--write`` also refreshes ``toxicity_on_responses.json`` beside the weights (the default error
rates of corrected toxicity; ``python -m srllm.scoring.train_scorers`` writes it too).

    .venv/bin/python bench/eval_toxicity_responses.py [--write] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srllm.scoring import tox_responses as TR
from srllm.scoring.embed import weights_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="refresh the record beside the weights")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    rec = TR.write_record(weights_dir()) if args.write else TR.record(weights_dir())
    if args.json:
        print(json.dumps(rec, indent=1, sort_keys=True))
        return 0
    c = rec["confusion"]
    print(f"scorer {rec['scorer_version']} on {rec['n']} labelled responses")
    print(
        f"  people: {rec['toxic_by_people']} toxic ({rec['share_toxic_by_people']:.1%}); "
        f"kappa between passes {rec['kappa_between_passes']:.3f}"
    )
    print(
        f"  scorer: AUC {rec['auc']:.3f}  accuracy {rec['accuracy']:.3f}  precision "
        f"{rec['precision']:.3f}  recall {rec['recall']:.3f}  "
        f"flagged {rec['share_flagged_by_scorer']:.1%}"
    )
    print(f"  confusion at {rec['threshold']}: tp {c['tp']} fn {c['fn']} tn {c['tn']} fp {c['fp']}")
    for part in ("by_batch", "by_prompt_set", "by_model"):
        for name, r in rec[part].items():
            if "auc" not in r:
                print(
                    f"  {part[3:]} {name}: n {r['n']}, people {r['toxic_by_people']} toxic; "
                    f"flagged {r['share_flagged_by_scorer']:.1%}"
                )
                continue
            print(
                f"  {part[3:]} {name}: n {r['n']}, people {r['toxic_by_people']} toxic, kappa "
                f"{r['kappa_between_passes']:.3f}; AUC {r['auc']:.3f}, precision "
                f"{r['precision']:.2f}, recall {r['recall']:.2f}, flagged "
                f"{r['share_flagged_by_scorer']:.1%} vs people {r['share_toxic_by_people']:.1%}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
