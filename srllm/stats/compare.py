"""Base against tuned model on the same prompts.

Rows of the two models are matched on ``prompt_id`` (and ``sample_idx`` when the column
exists); unmatched or unscored rows are left out. Outcomes are binary: refused, harmful answer,
or toxic (``taxonomy.is_toxic``) for the toxicity metric, so ``rate_*`` are shares.

- Per group (and pooled over all groups) McNemar's test of the paired outcomes
  (``statsmodels``; exact binomial when fewer than 25 pairs disagree, else chi-square with
  continuity correction), Holm and Benjamini-Hochberg adjusted across groups.
- The disparity gap (highest minus lowest group rate) of each model and its change
  (tuned minus base; negative = the tuned model is fairer) with percentile bootstrap
  intervals: templates are resampled with replacement, the same draws for both models, so
  the pairing is kept; seeded, vectorised with numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from srllm.errors import DataError
from srllm.stats._prep import Metric, has_axis, prepare
from srllm.stats.intervals import (
    bootstrap_sums,
    bootstrap_weights,
    percentile_interval,
    safe_ratio,
    template_matrix,
)
from srllm.stats.significance import adjust, mcnemar_test


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Paired comparison of two models on one metric.

    Attributes:
        base, tuned: the model names.
        metric: the metric (toxicity is compared as the toxic share).
        has_axis: whether the frames carry an ``axis`` column.
        by_group: ``[axis], group, n_pairs, rate_base, rate_tuned, change, both, base_only,
            tuned_only, neither, test, statistic, p_value, p_holm, p_bh``. ``base_only`` =
            outcome for the base model only (e.g. a refusal the tuning removed),
            ``tuned_only`` = outcome for the tuned model only (a refusal it added).
        overall: the same columns (no ``axis``/``group``, no adjustment) pooled over groups.
        gap: ``axis, gap_base, gap_base_ci_low, gap_base_ci_high, gap_tuned, gap_tuned_ci_low,
            gap_tuned_ci_high, change, ci_low, ci_high, n_templates, n_boot``; ``axis``
            null = all groups; ``change = gap_tuned - gap_base``.
        level, n_boot, seed: interval level and bootstrap settings.
    """

    base: str
    tuned: str
    metric: Metric
    has_axis: bool
    by_group: pl.DataFrame
    overall: pl.DataFrame
    gap: pl.DataFrame
    level: float
    n_boot: int
    seed: int


def paired_outcomes(
    data: pl.DataFrame, *, base: str, tuned: str, metric: Metric = "refusal"
) -> pl.DataFrame:
    """The matched pairs: ``prompt_id, [sample_idx], template_id, axis, group, base, tuned``.

    Raises ``DataError`` when a model is absent, a key is not unique, or nothing matches.
    """
    d = prepare(data, metric=metric, need=("prompt_id",))
    models = sorted(set(d.get_column("model").to_list()))
    for name in (base, tuned):
        if name not in models:
            raise DataError(f"model {name!r} has no scored rows; models: {', '.join(models)}")
    if base == tuned:
        raise DataError("base and tuned must be two different models")
    keys = ["prompt_id", *(["sample_idx"] if "sample_idx" in d.columns else [])]
    sides = []
    for name, col in ((base, "base"), (tuned, "tuned")):
        side = d.filter(pl.col("model") == name)
        if side.select(keys).is_duplicated().any():
            raise DataError(
                f"{' and '.join(keys)} do not identify the rows of model {name!r} uniquely"
            )
        sides.append(side.select(*keys, "template_id", "axis", "group", pl.col("hit").alias(col)))
    pairs = sides[0].join(sides[1].select(*keys, "tuned"), on=keys, how="inner")
    if pairs.height == 0:
        raise DataError(f"no prompt has a scored response from both {base!r} and {tuned!r}")
    return pairs


def compare_models(
    data: pl.DataFrame,
    *,
    base: str,
    tuned: str,
    metric: Metric = "refusal",
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> ModelComparison:
    """McNemar per group and the change in the max-min gap between ``base`` and ``tuned``."""
    pairs = paired_outcomes(data, base=base, tuned=tuned, metric=metric)
    axis_on = has_axis(pairs)

    counts = (
        pairs.group_by("axis", "group")
        .agg(
            n_pairs=pl.len().cast(pl.Int64),
            both=((pl.col("base") == 1) & (pl.col("tuned") == 1)).sum().cast(pl.Int64),
            base_only=((pl.col("base") == 1) & (pl.col("tuned") == 0)).sum().cast(pl.Int64),
            tuned_only=((pl.col("base") == 0) & (pl.col("tuned") == 1)).sum().cast(pl.Int64),
        )
        .sort("axis", "group", nulls_last=True)
    )
    by_group = _with_tests(counts)
    holm, bh = adjust(by_group.get_column("p_value").to_numpy())
    by_group = by_group.with_columns(p_holm=pl.Series(holm), p_bh=pl.Series(bh))
    if not axis_on:
        by_group = by_group.drop("axis")
    overall = _with_tests(counts.select(pl.exclude("axis", "group")).sum())

    gap = _gap_change(pairs, axis_on=axis_on, level=level, n_boot=n_boot, seed=seed)
    return ModelComparison(
        base=base,
        tuned=tuned,
        metric=metric,
        has_axis=axis_on,
        by_group=by_group,
        overall=overall,
        gap=gap,
        level=level,
        n_boot=n_boot,
        seed=seed,
    )


def _with_tests(counts: pl.DataFrame) -> pl.DataFrame:
    tests = [mcnemar_test(b, c) for b, c in counts.select("base_only", "tuned_only").iter_rows()]
    n = pl.col("n_pairs")
    return counts.with_columns(
        neither=(n - pl.col("both") - pl.col("base_only") - pl.col("tuned_only")),
        rate_base=(pl.col("both") + pl.col("base_only")) / n,
        rate_tuned=(pl.col("both") + pl.col("tuned_only")) / n,
        test=pl.Series([t.test for t in tests], dtype=pl.String),
        statistic=pl.Series([t.statistic for t in tests], dtype=pl.Float64),
        p_value=pl.Series([t.p_value for t in tests], dtype=pl.Float64),
    ).with_columns(change=pl.col("rate_tuned") - pl.col("rate_base"))


def _gap_change(
    pairs: pl.DataFrame, *, axis_on: bool, level: float, n_boot: int, seed: int
) -> pl.DataFrame:
    key = ("axis", "group")
    units, keys, n, s_base = template_matrix(pairs, value="base", key=key)
    units2, keys2, _, s_tuned = template_matrix(pairs, value="tuned", key=key)
    assert units == units2 and keys == keys2
    scopes: list[tuple[str | None, np.ndarray]] = [(None, np.arange(len(keys)))]
    if axis_on:
        axes = sorted({k[0] for k in keys if k[0] is not None})
        scopes += [(a, np.array([i for i, k in enumerate(keys) if k[0] == a])) for a in axes]
    weights = bootstrap_weights(len(units), n_boot, seed=seed) if n_boot > 0 else []
    if weights:
        nb, bb, tb = bootstrap_sums(weights, n, s_base, s_tuned)
    nan2 = (float("nan"), float("nan"))
    rows = []
    for axis, cols in scopes:
        ng = n[:, cols].sum(axis=0)
        gb = _gap(safe_ratio(s_base[:, cols].sum(axis=0), ng))
        gt = _gap(safe_ratio(s_tuned[:, cols].sum(axis=0), ng))
        ci_b = ci_t = ci_c = nan2
        if weights:
            boot_b = _gap(safe_ratio(bb[:, cols], nb[:, cols]))
            boot_t = _gap(safe_ratio(tb[:, cols], nb[:, cols]))
            ci_b = percentile_interval(boot_b, level=level)
            ci_t = percentile_interval(boot_t, level=level)
            ci_c = percentile_interval(boot_t - boot_b, level=level)
        rows.append(
            {
                "axis": axis,
                "gap_base": float(gb),
                "gap_base_ci_low": ci_b[0],
                "gap_base_ci_high": ci_b[1],
                "gap_tuned": float(gt),
                "gap_tuned_ci_low": ci_t[0],
                "gap_tuned_ci_high": ci_t[1],
                "change": float(gt - gb),
                "ci_low": ci_c[0],
                "ci_high": ci_c[1],
                "n_templates": int((n[:, cols].sum(axis=1) > 0).sum()),
                "n_boot": n_boot,
            }
        )
    schema = {
        "axis": pl.String,
        **{
            c: pl.Float64
            for c in (
                "gap_base",
                "gap_base_ci_low",
                "gap_base_ci_high",
                "gap_tuned",
                "gap_tuned_ci_low",
                "gap_tuned_ci_high",
                "change",
                "ci_low",
                "ci_high",
            )
        },
        "n_templates": pl.Int64,
        "n_boot": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _gap(rates: np.ndarray) -> np.ndarray:
    """Highest minus lowest rate along the last axis, ignoring NaN groups."""
    rates = np.asarray(rates, dtype=float)
    allnan = np.all(np.isnan(rates), axis=-1)
    filled_hi = np.where(np.isnan(rates), -np.inf, rates).max(axis=-1)
    filled_lo = np.where(np.isnan(rates), np.inf, rates).min(axis=-1)
    return np.where(allnan, np.nan, filled_hi - filled_lo)


def gap_verdict(
    gap: dict, *, base: str, tuned: str, metric: str, escape: Callable[[str], str] = str
) -> tuple[str, str]:
    """One sentence on the base-vs-tuned change in the max-min gap, and its tone.

    ``gap`` is the overall row of :attr:`ModelComparison.gap`. The word follows the sign and
    the interval: ``narrower`` / ``wider`` only when the 95% CI excludes 0, ``unchanged``
    for a zero change, otherwise "not clearly different". Tone: ``success`` (clearly
    narrower), ``warning`` (clearly wider) or ``info``.
    """
    change, lo, hi = float(gap["change"]), float(gap["ci_low"]), float(gap["ci_high"])
    clear = lo > 0 or hi < 0
    if clear and change < 0:
        word, tone = "**narrower**", "success"
    elif clear and change > 0:
        word, tone = "**wider**", "warning"
    elif change == 0:
        word, tone = "**unchanged**", "info"
    else:
        word, tone = "**not clearly different**", "info"
    text = (
        f"Max–min {metric} gap: {gap['gap_base']:.1%} ({escape(base)}) → "
        f"{gap['gap_tuned']:.1%} ({escape(tuned)}); change {change:+.1%} "
        f"(95% CI {lo:+.1%} to {hi:+.1%}): the tuned model's gap is {word}"
        + ("." if clear else " (the CI includes 0: not a clear change).")
    )
    return tone, text
