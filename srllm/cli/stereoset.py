"""``stereoset``: StereoSet intrasentence LMS, SS and ICAT per domain for one or more models.

``--json`` prints one JSON object keyed by model name; each value has ``n_items``,
``seconds``, ``domains`` (``gender``, ``profession``, ``race``, ``religion`` as present, and
``overall``; each with ``n_items``, ``n_terms``, ``lms``, ``ss``, ``icat`` and the bootstrap
bounds ``lms_ci_low`` ... ``icat_ci_high``), ``bootstrap_ci`` (how the CIs were made: an
extra, not part of StereoSet) and ``fingerprint`` (model, adapter hash, data file hash,
start token). Without ``--json`` a table is printed. ``--db PATH`` also stores the figures in
the DuckDB table ``stereoset_results`` under a run label (default: a new one per evaluation,
``stereoset-<data stem>[-firstN]-<UTC time>``), where ``paper-tables`` and the Model
comparison page read them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from srllm.config import comma_list
from srllm.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``stereoset`` command."""
    p = sub.add_parser(
        "stereoset",
        help="StereoSet intrasentence bias figures (LMS, SS, ICAT) per model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", required=True, help="comma-separated: base,tuned,DIR,org/name")
    p.add_argument(
        "--data",
        help="intrasentence CSV (default: "
        "../shared/data/stereoset/stereoset_intrasentence_dev.csv)",
    )
    p.add_argument("--json", action="store_true", help="print JSON keyed by model")
    p.add_argument("--limit", type=int, help="only the first N items of the file")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass")
    p.add_argument("--db", help="also store the figures in this DuckDB file")
    p.add_argument(
        "--run-label",
        help="label of the stored rows (default: new per evaluation; re-using one replaces it)",
    )
    p.add_argument(
        "--start-token",
        default="auto",
        help="token that conditions a sentence's first token (default: auto = <|endoftext|> "
        "when the vocabulary has it, else BOS, else EOS)",
    )
    p.add_argument(
        "--conditioning",
        choices=("official", "prefix"),
        default="official",
        help="official: as StereoSet's GPT-2 scorer; prefix: feed [start]+sentence",
    )
    p.add_argument(
        "--packing",
        choices=("auto", "trie", "none"),
        default="auto",
        help="trie: share prefixes between sentences (faster, same scores); none: one sentence "
        "per row; auto: trie after checking it matches none on a probe",
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (0: no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=cmd_stereoset)


def cmd_stereoset(args: argparse.Namespace) -> int:
    """Score the items with each model; print JSON or a table; store when ``--db``."""
    from srllm.config import prefer_passive_openmp

    prefer_passive_openmp()  # before torch is imported
    from tqdm import tqdm

    from srllm.stereoset import default_data_path, default_run_label, evaluate_models

    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if args.n_boot < 0:
        raise ConfigError("--n-boot must be 0 or more")
    words = list(comma_list(args.models))
    if not words:
        raise ConfigError("name at least one model with --models")
    data_path = args.data or default_data_path()
    label = args.run_label or default_run_label(data_path, args.limit)
    bars: dict[str, Any] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        bar = bars.get(name)
        if bar is None:
            for old in bars.values():
                old.close()
            bar = bars[name] = tqdm(
                total=total,
                unit="sent",
                desc=f"{name}: stereoset",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
        bar.update(done - bar.n)

    def on_result(result: Any) -> None:
        if result.model in bars:
            bars[result.model].close()
        print(
            f"{result.model}: {result.n_sentences} sentences in {result.seconds:.1f}s "
            f"({result.n_sentences / max(result.seconds, 1e-9):.1f} sentences/s)",
            file=sys.stderr,
        )

    try:
        results = evaluate_models(
            words,
            db=args.db,
            data_path=data_path,
            limit=args.limit,
            run_label=label,
            progress=on_progress,
            on_result=on_result,
            batch_size=args.batch_size,
            start_token=args.start_token,
            conditioning=args.conditioning,
            packing=args.packing,
            n_boot=args.n_boot,
            seed=args.seed,
        )
    finally:
        for bar in bars.values():
            bar.close()
    if args.db:
        print(f"stored under run label {label!r} in {args.db}", file=sys.stderr)
    if args.json:
        print(json.dumps({name: r.to_dict() for name, r in results.items()}, indent=1))
    else:
        print(format_table({name: r.metrics for name, r in results.items()}, args.n_boot))
    return 0


def format_table(results: dict[str, list[dict[str, Any]]], n_boot: int) -> str:
    """A plain-text table: one line per model and domain, CIs in brackets."""

    def cell(row: dict[str, Any], metric: str) -> str:
        low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
        text = f"{row[metric]:6.2f}"
        return f"{text} [{low:6.2f}, {high:6.2f}]" if low is not None else text

    width = 24 if n_boot else 6
    name_w = max([5, *(len(n) for n in results)])
    lines = [
        f"{'model':<{name_w}}  {'domain':<10} {'items':>5} {'terms':>5}  "
        f"{'LMS':<{width}}  {'SS':<{width}}  {'ICAT':<{width}}"
    ]
    for name, rows in results.items():
        for row in rows:
            lines.append(
                f"{name:<{name_w}}  {row['domain']:<10} {row['n_items']:>5} {row['n_terms']:>5}  "
                f"{cell(row, 'lms'):<{width}}  {cell(row, 'ss'):<{width}}  "
                f"{cell(row, 'icat'):<{width}}"
            )
    lines.append("ideal: LMS 100, SS 50, ICAT 100; domain and overall figures are means over")
    lines.append("target terms, as in the official StereoSet scorer.")
    if n_boot:
        lines.append(
            f"[brackets]: 95% percentile bootstrap over items within target terms, B={n_boot} "
            "(an extra, not part of StereoSet)."
        )
    return "\n".join(lines)
