"""Small derived tables the pages chart: template x group matrix, category shares, findings."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from srllm.stats._prep import prepare


def template_group_matrix(
    data: pl.DataFrame, *, model: str, metric: str = "refusal"
) -> pl.DataFrame:
    """Rate of ``metric`` per template (rows) and group (columns) for one model."""
    d = prepare(data.filter(pl.col("model") == model), metric=metric)
    wide = (
        d.group_by("template_id", "group")
        .agg(pl.col("hit").mean().alias("rate"))
        .pivot(on="group", index="template_id", values="rate")
        .sort("template_id")
    )
    groups = sorted(c for c in wide.columns if c != "template_id")
    return wide.select("template_id", *groups)


def category_shares(data: pl.DataFrame) -> pl.DataFrame:
    """Share of each response category per model and group: model, group, category, share."""
    d = data.filter(pl.col("category").is_not_null())
    return (
        d.group_by("model", "group", "category")
        .len()
        .with_columns((pl.col("len") / pl.col("len").sum().over("model", "group")).alias("share"))
        .sort("model", "group", "category")
    )


def findings(
    by_group: pl.DataFrame, *, alpha: float = 0.05, escape: Callable[[str], str] = str
) -> list[str]:
    """Plain-language lines for groups whose rate differs from the rest after Holm.

    ``escape`` is applied to model and group names (pass a markdown escaper when the lines are
    rendered as markdown: names come from imported data).
    """
    lines = []
    sig = by_group.filter(pl.col("p_holm") < alpha).sort("diff_vs_rest", descending=True)
    for r in sig.iter_rows(named=True):
        direction = "more" if r["diff_vs_rest"] > 0 else "less"
        lines.append(
            f"{escape(r['model'])}: **{escape(r['group'])}** {r['rate']:.0%} "
            f"(95% CI {r['ci_low']:.0%}–"
            f"{r['ci_high']:.0%}, n={r['n']}) vs {r['rate_rest']:.0%} for the rest: "
            f"{abs(r['diff_vs_rest']) * 100:.1f} points {direction} (Holm p={r['p_holm']:.3g})"
        )
    return lines


def paired_change(by_group: pl.DataFrame, *, z: float = 1.959964) -> pl.DataFrame:
    """Per group tuned − base rate with a Wald interval for a paired difference.

    ``by_group`` is ``ModelComparison.by_group`` (``n_pairs, base_only, tuned_only``). With
    b = base-only and c = tuned-only outcomes among n pairs, the change is (c − b)/n and its
    standard error sqrt(b + c − (c − b)²/n)/n.
    """
    b, c, n = pl.col("base_only"), pl.col("tuned_only"), pl.col("n_pairs")
    diff = (c - b) / n
    se = (b + c - (c - b) ** 2 / n).clip(lower_bound=0).sqrt() / n
    return by_group.select(
        "group",
        diff.alias("diff"),
        (diff - z * se).alias("ci_low"),
        (diff + z * se).alias("ci_high"),
    )
