"""``gate``: fail a release (exit 1) when an audit run exceeds its limits *with confidence*.

The statistics are in :mod:`srllm.stats.gate`; this module parses flags and prints.
"""

from __future__ import annotations

import argparse

from srllm.config import DEFAULT_DB
from srllm.errors import ConfigError
from srllm.stats.gate import DEFAULT_ALPHA, DEFAULT_N_BOOT, _pct, evaluate_gate


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gate`` command."""
    g = sub.add_parser(
        "gate",
        help="exit 1 when a run exceeds refusal-gap or harmful-rate limits with confidence",
        description=(
            "Check an audit run against limits; exit 1 when a limit is exceeded with "
            "statistical confidence (the lower bound of a one-sided 1-alpha interval is above "
            "it), 0 otherwise, 2 for an error. Prints one line per model and check."
        ),
    )
    g.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    g.add_argument("--run", required=True, help="run id or name")
    g.add_argument(
        "--max-refusal-gap",
        type=float,
        metavar="X",
        help="largest allowed max-min gap between group refusal rates (0-1)",
    )
    g.add_argument(
        "--max-harmful-rate",
        type=float,
        metavar="Y",
        help="largest allowed share of harmful answers (0-1)",
    )
    g.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="one-sided error level: a check fails at confidence 1-alpha (default %(default)s)",
    )
    g.add_argument(
        "--model",
        action="append",
        metavar="M",
        help="check only this model (repeatable; default: every model of the run)",
    )
    g.add_argument(
        "--n-boot",
        type=int,
        default=DEFAULT_N_BOOT,
        help="bootstrap replicates (default %(default)s)",
    )
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    g.add_argument(
        "--kind",
        default=None,
        help="prompt kind for both checks (benign, stereotype, any stored kind, or all); "
        "default: the refusal gap on benign prompts, the harmful rate on stereotype prompts",
    )
    g.add_argument(
        "--corrected",
        action="store_true",
        help="check rates corrected for classifier error (human labels of the run's Review, "
        "else the shipped classifier's held-out evaluation)",
    )
    g.set_defaults(func=cmd_gate)


def cmd_gate(args: argparse.Namespace) -> int:
    """Print one line per check and a verdict; 1 when any check fails."""
    from srllm.store import Store

    if args.max_refusal_gap is None and args.max_harmful_rate is None:
        raise ConfigError("give at least one limit: --max-refusal-gap and/or --max-harmful-rate")
    store = Store(args.db, read_only=True)
    run = store.require_run(args.run)
    frame = store.scored_frame(run["run_id"])
    if args.corrected:
        frame = with_human_labels(store, run["run_id"], frame)
    result = evaluate_gate(
        frame,
        max_refusal_gap=args.max_refusal_gap,
        max_harmful_rate=args.max_harmful_rate,
        alpha=args.alpha,
        models=args.model,
        n_boot=args.n_boot,
        seed=args.seed,
        kind=args.kind,
        corrected=args.corrected,
    )
    print(
        f"gate: run {run['run_name']} ({run['run_id']}), {result.n_scored} scored generations, "
        f"alpha {result.alpha:g} (one-sided {_pct(1 - result.alpha)} intervals), "
        f"{result.n_boot} template-bootstrap replicates, seed {result.seed}"
    )
    if result.n_failed_generations:
        k = result.n_failed_generations
        print(
            f"note: {k} generation{'s' * (k != 1)} failed and {'are' if k != 1 else 'is'} left out"
        )
    for check in result.checks:
        print(check.line(result.alpha))
    n_fail = sum(c.failed for c in result.checks)
    if n_fail:
        print(
            f"gate: FAIL ({n_fail} of {len(result.checks)} checks exceed their limit with "
            f"{_pct(1 - result.alpha)} confidence)"
        )
        return 1
    k = len(result.checks)
    print(f"gate: PASS ({k} check{'s' * (k != 1)}; no limit exceeded with confidence)")
    return 0


def with_human_labels(store, run_id: str, frame):
    """The scored frame with each generation's newest Review label.

    Adds ``human_category`` and ``human_toxic`` (1/0, null where nobody judged it; see
    ``review.newest_labels``).
    """
    from srllm.review import newest_labels

    return frame.join(newest_labels(store.labels(run_id)), on="generation_id", how="left")
