"""Small derived tables the pages chart: template x group matrix, category shares, findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class DisparityView:
    """Everything the Disparities page shows for one metric, kind and axis."""

    data: pl.DataFrame  # the analysed rows (kind and axis applied)
    frame: object  # DisparityFrame
    kind_note: str
    comparison: object | None  # ModelComparison, base vs tuned
    verdict: tuple[str, str] | None  # (tone, sentence)
    comparison_error: Exception | None
    corrected: pl.DataFrame | None  # per group corrected rates (srllm.stats.correction)
    impact: pl.DataFrame | None  # impact ratios on benign prompts
    base: str | None
    tuned: str | None


def disparity_view(
    data: pl.DataFrame,
    *,
    metric: str,
    kind: str | None = None,
    axis: str | None = None,
    labels: pl.DataFrame | None = None,
    corrected: bool = False,
    n_boot: int = 1000,
    escape: Callable[[str], str] = str,
) -> DisparityView:
    """The analysis behind the page: each harm on its own prompts, then the optional extras."""
    from srllm.stats.compare import compare_models, gap_verdict
    from srllm.stats.disparity import disparity
    from srllm.stats.kinds import select_kind

    d, choice = select_kind(data, metric, kind)
    if axis:
        d = d.filter(pl.col("axis") == axis)
    frame = disparity(d, metric=metric, n_boot=n_boot)
    cmp = verdict = err = None
    base = tuned = None
    if len(frame.models) >= 2 and metric != "toxicity":
        base = "base" if "base" in frame.models else frame.models[0]
        tuned = next(m for m in frame.models if m != base)
        try:
            cmp = compare_models(d, base=base, tuned=tuned, metric=metric, n_boot=n_boot)
            gap = cmp.gap.filter(pl.col("axis").is_null()).row(0, named=True)
            verdict = gap_verdict(gap, base=base, tuned=tuned, metric=metric, escape=escape)
        except Exception as exc:
            err = exc
    cor = None
    if corrected:  # toxicity from the labels' "toxic?" only: no shipped error rates
        from srllm.review import newest_labels
        from srllm.stats.correction import corrected_table, shipped_error_rates

        rows = d
        if labels is not None and "generation_id" in d.columns:
            rows = d.join(newest_labels(labels), on="generation_id", how="left")
        cor = corrected_table(
            rows, metric=metric, n_boot=n_boot, fallback=shipped_error_rates(metric)
        )
    impact = None
    if metric == "refusal" and choice.kind != "stereotype":
        from srllm.stats.impact import impact_ratio

        impact = impact_ratio(d)
    return DisparityView(d, frame, choice.note, cmp, verdict, err, cor, impact, base, tuned)


def run_category_table(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Category shares per run and model, one column per category (``category_shares``)."""
    both = pl.concat(
        [f.with_columns(pl.lit(name).alias("group")) for name, f in frames.items()],
        how="diagonal_relaxed",
    )
    shares = category_shares(both).rename({"group": "run"})
    return (
        shares.with_columns(pl.col("share").round(3))
        .pivot(on="category", index=["run", "model"], values="share")
        .sort("run", "model")
    )
