"""``compare``: base vs tuned on the held-out, stereotype and SR_LLM sets, with CIs."""

from __future__ import annotations

import argparse
import json
import sys

from srllm.config import DEFAULT_DB, GenerationConfig, add_dataclass_arguments


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` command."""
    p = sub.add_parser("compare", help="evaluate a safety adapter: base vs tuned, with CIs")
    p.add_argument("--base", default="base")
    p.add_argument("--tuned", default="tuned")
    p.add_argument("--db", default=str(DEFAULT_DB))
    add_dataclass_arguments(
        p, GenerationConfig, include=("max_new_tokens", "batch_size"), defaults={"batch_size": 32}
    )
    p.add_argument(
        "--srllm-limit",
        type=int,
        default=40,
        help="SR_LLM counterfactual sentences to use (each has 11 variants)",
    )
    p.add_argument("--stereotype-limit", type=int, help="only the first N stereotype templates")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run the comparison and print it."""
    from tqdm import tqdm

    from srllm.evaluation import format_report, run_compare

    bar = tqdm(total=0, unit="gen", file=sys.stderr, disable=None)

    def on_progress(p) -> None:
        bar.total, bar.n = p.total, p.done
        bar.set_description(f"{p.model}: {p.stage}")
        bar.refresh()

    report = run_compare(
        base=args.base,
        tuned=args.tuned,
        db=args.db,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        srllm_limit=args.srllm_limit,
        stereotype_limit=args.stereotype_limit,
        progress=on_progress,
    )
    bar.close()
    print(json.dumps(report, indent=1, default=str) if args.json else format_report(report))
    return 0
