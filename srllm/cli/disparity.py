"""``disparity``: refusal, harmful-answer or toxicity rates by group, with tests."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import polars as pl

from srllm.config import DEFAULT_DB
from srllm.errors import DataError
from srllm.files import read_table

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_WHAT = {"refusal": "most refused", "harmful": "most harmful answers", "toxicity": "most toxic"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``disparity`` command."""
    p = sub.add_parser(
        "disparity",
        help="rates by model and group with Wilson intervals, tests and corrections",
        description=(
            "Per model and group: n, rate, 95% interval, a test of the group against the "
            "rest (chi-square, or Fisher when counts are small; Welch t for toxicity) with "
            "Holm and Benjamini-Hochberg corrections, and per model the max-min gap with a "
            "bootstrap interval and a test across all groups."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run id or name in the store (with --db)")
    src.add_argument(
        "--in",
        dest="input",
        metavar="PATH",
        help="CSV or Parquet with model, group, category (or toxicity); optional template_id, "
        "kind, axis, human_category (a person's category) and human_toxic (a person's toxic "
        "judgement, 0/1 or a score), each on the rows a person labelled",
    )
    p.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    p.add_argument("--metric", choices=("refusal", "harmful", "toxicity"), default="refusal")
    p.add_argument(
        "--kind",
        default=None,
        help="prompt kind to analyse: benign (also qos), stereotype, any stored kind, or all; "
        "default: benign for refusal, stereotype for harmful and toxicity",
    )
    p.add_argument(
        "--corrected",
        action="store_true",
        help="add rates corrected for classifier error (Rogan-Gladen) with bootstrap intervals "
        "that carry the error estimates' uncertainty; error rates from human labels (per "
        "group, else pooled: human_category rows of --in or the run's Review labels), else the "
        "shipped classifier's held-out evaluation; toxicity (the toxic share) is corrected from "
        "people's toxic judgements: the human_toxic rows of --in or the toxic? choice "
        "of the run's Review labels, else the built-in scorer's errors on labelled "
        "responses (data/scoring/toxicity_on_responses.json)",
    )
    p.add_argument(
        "--min-labels",
        type=int,
        default=30,
        help="labelled rows a group (or model) needs for its own error rates (default: 30)",
    )
    p.add_argument(
        "--toxicity-test",
        choices=("welch", "mannwhitney"),
        default="welch",
        help="group-vs-rest test of mean toxicity (default: %(default)s)",
    )
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates for the gap")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per row")
    p.set_defaults(func=cmd_disparity)


def load_frame(args: argparse.Namespace) -> pl.DataFrame:
    """The scored rows named by ``--in`` or ``--db``/``--run``."""
    if args.input:
        df = read_table(args.input, SUFFIXES, as_text=False)  # numbers stay numbers
        if "template_id" not in df.columns:  # each row its own request: nothing to pair
            df = df.with_row_index("_row").with_columns(
                pl.format("row-{}", pl.col("_row")).alias("template_id")
            )
        return df
    from srllm.store import Store

    store = Store(args.db, read_only=True)
    run_id = store.require_run(args.run)["run_id"]
    df = store.scored_frame(run_id)
    if df.height == 0:
        raise DataError(f"run {args.run!r} has no generations")
    if args.corrected:  # the run's own Review labels give the error rates
        from srllm.cli.gate import with_human_labels

        df = with_human_labels(store, run_id, df)
    return df


def cmd_disparity(args: argparse.Namespace) -> int:
    """Print the disparity table (or JSON) and a summary line per model."""
    import sys

    from srllm.stats import disparity
    from srllm.stats.kinds import select_kind

    if args.n_boot < 0:
        raise DataError("--n-boot must be 0 or more")
    data, kind = select_kind(load_frame(args), args.metric, args.kind)
    frame = disparity(
        data,
        metric=args.metric,
        mean_test=args.toxicity_test,
        n_boot=0 if args.json else args.n_boot,  # the JSON rows carry no gap intervals
        seed=args.seed,
    )
    print(f"srllm: {args.metric} on {kind.note}", file=sys.stderr)
    table = frame.table().with_columns(pl.lit(kind.kind).alias("kind"))
    if args.corrected:
        table = with_corrected(table, data, args)
    if args.json:
        print(json.dumps([_clean(r) for r in table.iter_rows(named=True)], indent=1))
        return 0
    print(format_table(table, metric=args.metric))
    print()
    for line in summary_lines(frame):
        print(line)
    if args.corrected:
        for line in corrected_lines(table):
            print(line)
    return 0


def with_corrected(table: pl.DataFrame, data: pl.DataFrame, args: argparse.Namespace):
    """The table joined with the corrected rates (``srllm.stats.correction``)."""
    import sys

    from srllm.stats.correction import corrected_table, shipped_error_rates
    from srllm.taxonomy import TOXIC_RULE

    if args.metric == "toxicity":
        print(
            f"srllm: rate is the mean toxicity; rate_observed and rate_corrected are the share "
            f"scored toxic ({TOXIC_RULE}){_toxic_source(data, args)}",
            file=sys.stderr,
        )
    cor = corrected_table(
        data,
        metric=args.metric,
        n_boot=max(args.n_boot, 200),
        seed=args.seed,
        min_labels=args.min_labels,
        fallback=shipped_error_rates(args.metric),
    )
    return table.join(cor, on=["model", "group"], how="left")


def _toxic_source(data: pl.DataFrame, args: argparse.Namespace) -> str:
    """Where people's toxic judgements come from, or why there are none."""
    if args.input:
        if "human_toxic" in data.columns:
            return "; people's toxic judgements: the human_toxic column"
        return f"; no human_toxic column: {SHIPPED_TOXIC}"
    n = data["human_toxic"].is_not_null().sum() if "human_toxic" in data.columns else 0
    if n:
        return f"; people's toxic judgements: the run's Review labels ({n} on these prompts)"
    return (
        "; none of the run's Review labels judges toxicity (the toxic? choice on the Review "
        f"page): {SHIPPED_TOXIC}"
    )


SHIPPED_TOXIC = (
    "error rates of the built-in scorer on labelled responses of the embedded models "
    "(data/scoring/toxicity_on_responses.json), or none if the weights changed since"
)


def corrected_lines(table: pl.DataFrame) -> list[str]:
    """One line per group whose raw gap classifier error could explain."""
    out = []
    for r in table.filter(pl.col("explained_by_error")).iter_rows(named=True):
        out.append(
            f"{r['model']} / {r['group']}: raw gap vs rest excludes 0 "
            f"[{_num(r['diff_ci_low'])}, {_num(r['diff_ci_high'])}], corrected does not "
            f"[{_num(r['diff_ci_low_corrected'])}, {_num(r['diff_ci_high_corrected'])}]: "
            "classifier error could explain this gap"
        )
    sources = sorted(set(table["error_source"].drop_nulls().to_list()))
    out.append(f"error rates from: {', '.join(sources) or '-'}")
    return out


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values: NaN and infinities become null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.2g}" if x < 0.001 else f"{x:.3f}"


def format_table(table: pl.DataFrame, *, metric: str) -> str:
    """An aligned text table; ``*`` marks groups whose Holm-adjusted p-value is below 0.05."""
    has_axis = "axis" in table.columns
    head = ["model", *(["axis"] if has_axis else []), "group", "n", "count"]
    head += ["mean" if metric == "toxicity" else "rate", "95% CI", "vs rest", "test"]
    head += ["p", "p_holm", "p_bh", ""]
    lines = [head]
    for r in table.iter_rows(named=True):
        diff = r["diff_vs_rest"]
        lines.append(
            [
                r["model"],
                *([r["axis"] or "-"] if has_axis else []),
                r["group"],
                str(r["n"]),
                str(r["count"]),
                _num(r["rate"]),
                f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]",
                "-" if diff is None or not math.isfinite(diff) else f"{diff:+.3f}",
                r["test"],
                _p(r["p_value"]),
                _p(r["p_holm"]),
                _p(r["p_bh"]),
                "*" if r["p_holm"] is not None and r["p_holm"] < 0.05 else "",
            ]
        )
    numeric = {"n", "count", "mean", "rate", "vs rest", "p", "p_holm", "p_bh"}
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for row in lines:
        cells = [
            c.rjust(w) if h in numeric else c.ljust(w)
            for c, w, h in zip(row, widths, head, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    out.append("* group differs from the rest after Holm correction (p_holm < 0.05)")
    return "\n".join(out)


def summary_lines(frame: Any) -> list[str]:
    """One line per model: max-min gap with its interval, top group, overall test p-value."""
    gaps = {r["model"]: r for r in frame.difference().iter_rows(named=True)}
    tests = {r["model"]: r for r in frame.overall_test().iter_rows(named=True)}
    rates = {(r["model"], r["group"]): r["rate"] for r in frame.by_group.iter_rows(named=True)}
    lines = []
    for model in frame.models:
        g, t = gaps[model], tests[model]
        hi, lo = g["group_max"], g["group_min"]
        ci = (
            f" (95% CI {_num(g['ci_low'])} to {_num(g['ci_high'])})"
            if g["ci_low"] is not None and math.isfinite(g["ci_low"])
            else ""
        )
        test = (
            "no variation to test"
            if t["test"] == "constant"
            else f"{t['test']} p = {_p(t['p_value'])}"
        )
        if t["n_groups"] < 2:
            lines.append(f"{model}: one group, {hi} {_num(rates[(model, hi)])}")
            continue
        if g["difference"] == 0:
            lines.append(
                f"{model}: all {t['n_groups']} groups at {_num(rates[(model, hi)])}; "
                f"all groups: {test}"
            )
            continue
        lines.append(
            f"{model}: max-min gap {_num(g['difference'])}{ci}, {hi} {_num(rates[(model, hi)])}"
            f" vs {lo} {_num(rates[(model, lo)])}; {_WHAT[frame.metric]}: {hi}; "
            f"all groups: {test}"
        )
    return lines
