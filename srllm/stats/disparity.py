"""Disparity of one metric across demographic groups, per model (a fairlearn-like frame).

``disparity(df, metric=...)`` returns a ``DisparityFrame``, shaped like fairlearn's
``MetricFrame`` with the model as the control feature and the group as the sensitive
feature: ``overall`` and ``by_group`` rates with confidence intervals, ``difference()`` and
``ratio()`` with bootstrap intervals, group-against-rest tests with Holm and
Benjamini-Hochberg corrections, and an overall test across groups. ``disparity_table`` is the
flat per-group table the CLI prints.

Metrics (see ``srllm.stats._prep``): ``refusal`` (category refusal or harmful_refusal),
``harmful`` (category harmful_answer) and ``toxicity`` (mean toxicity score; ``count`` and
``toxic_share`` are about toxic responses, ``taxonomy.is_toxic``).

Intervals: Wilson score intervals for rates; for the mean toxicity a Student t interval
(clipped to [0, 1]); for differences and ratios a percentile bootstrap that resamples
templates with replacement (a cluster bootstrap: every row of a drawn template comes along,
so the counterfactual variants of one request stay together), seeded, ``n_boot`` replicates.
The max-min gap of noisy rates is biased upward and so is its bootstrap interval; read it
next to the per-group intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from srllm.errors import DataError
from srllm.stats._prep import Metric, has_axis, prepare
from srllm.stats.intervals import (
    bootstrap_sums,
    bootstrap_weights,
    gap_statistics,
    percentile_interval,
    safe_ratio,
    t_interval,
    template_matrix,
    wilson_interval,
)
from srllm.stats.significance import MeanTest, adjust, contingency, k_sample, two_by_two, two_sample

GapMethod = Literal["between_groups", "to_overall"]
GAP_METHODS: tuple[str, ...] = ("between_groups", "to_overall")

TABLE_COLUMNS: tuple[str, ...] = (
    "model",
    "axis",
    "group",
    "n",
    "count",
    "rate",
    "ci_low",
    "ci_high",
    "toxic_share",
    "toxic_ci_low",
    "toxic_ci_high",
    "rate_rest",
    "diff_vs_rest",
    "test",
    "statistic",
    "p_value",
    "p_holm",
    "p_bh",
)


@dataclass(frozen=True, eq=False)
class DisparityFrame:
    """Rates of one metric by model and group, with intervals and tests.

    Attributes:
        metric: ``refusal``, ``harmful`` or ``toxicity``.
        level: confidence level of every interval (0.95).
        by_group: one row per model and group, sorted by model then rate (highest first):
            ``model, [axis], group, n, count, rate, ci_low, ci_high`` (toxicity adds
            ``sd, toxic_share, toxic_ci_low, toxic_ci_high``), then the group-against-rest
            test: ``rate_rest, diff_vs_rest, test, statistic, p_value, p_holm, p_bh``. The
            rest is the model's other groups (of the same axis when there are axes).
        overall: one row per model: ``model, n, count, rate, ci_low, ci_high`` (+ toxicity
            extras).
        tests: the test across all groups at once: ``model, axis, n_groups, test,
            statistic, dof, p_value``; ``axis`` is null for the test over all of a model's
            groups, and there is one more row per axis when the data has axes.
        gaps: ``model, axis, method, difference, diff_ci_low, diff_ci_high, ratio,
            ratio_ci_low, ratio_ci_high, group_max, group_min, n_templates`` for both
            methods; ``axis`` null = all groups of the model.
        has_axis: whether the data had an ``axis`` column with values.
        adjust_within: the family of the Holm/BH corrections: ``model`` (all groups of a
            model) or ``axis`` (the groups of one axis of one model).
        mean_test: ``welch`` or ``mannwhitney`` (toxicity only).
        n_boot: bootstrap replicates behind the gap intervals (0 = none, intervals NaN).
        seed: seed of the bootstrap and of Monte Carlo Fisher tests.
    """

    metric: Metric
    level: float
    by_group: pl.DataFrame
    overall: pl.DataFrame
    tests: pl.DataFrame
    gaps: pl.DataFrame
    has_axis: bool
    adjust_within: Literal["model", "axis"]
    mean_test: MeanTest
    n_boot: int
    seed: int

    @property
    def models(self) -> list[str]:
        """The models, in order."""
        return self.overall.get_column("model").to_list()

    def _gap(self, method: str, by_axis: bool) -> pl.DataFrame:
        if method not in GAP_METHODS:
            raise ValueError(f"method must be one of {GAP_METHODS}, got {method!r}")
        gaps = self.gaps.filter(pl.col("method") == method)
        if by_axis and self.has_axis:
            return gaps.filter(pl.col("axis").is_not_null())
        return gaps.filter(pl.col("axis").is_null()).drop("axis")

    def difference(
        self, *, method: GapMethod = "between_groups", by_axis: bool = False
    ) -> pl.DataFrame:
        """Largest difference per model: ``model, [axis], difference, ci_low, ci_high``.

        ``between_groups``: highest minus lowest group rate; ``to_overall``: largest absolute
        distance of a group's rate from the model's overall rate. ``by_axis=True`` gives one
        row per model and axis (groups compared only within their axis).
        """
        keys = ["model", "axis"] if by_axis and self.has_axis else ["model"]
        return self._gap(method, by_axis).select(
            *keys,
            "difference",
            pl.col("diff_ci_low").alias("ci_low"),
            pl.col("diff_ci_high").alias("ci_high"),
            "group_max",
            "group_min",
        )

    def ratio(self, *, method: GapMethod = "between_groups", by_axis: bool = False) -> pl.DataFrame:
        """Smallest ratio per model: ``model, [axis], ratio, ci_low, ci_high``.

        ``between_groups``: lowest over highest group rate; ``to_overall``: the smallest of
        ``rate/overall`` and ``overall/rate`` over groups. NaN when a denominator is 0.
        """
        keys = ["model", "axis"] if by_axis and self.has_axis else ["model"]
        return self._gap(method, by_axis).select(
            *keys,
            "ratio",
            pl.col("ratio_ci_low").alias("ci_low"),
            pl.col("ratio_ci_high").alias("ci_high"),
        )

    def group_max(self) -> pl.DataFrame:
        """Per model the group with the highest rate: ``model, group, rate``."""
        return self._extreme(descending=True)

    def group_min(self) -> pl.DataFrame:
        """Per model the group with the lowest rate: ``model, group, rate``."""
        return self._extreme(descending=False)

    def _extreme(self, *, descending: bool) -> pl.DataFrame:
        return (
            self.by_group.sort("model", "rate", "group", descending=[False, descending, False])
            .group_by("model", maintain_order=True)
            .first()
            .select("model", "group", "rate")
        )

    def overall_test(self) -> pl.DataFrame:
        """The model-wide test across all groups: ``model, n_groups, test, statistic, p_value``."""
        return self.tests.filter(pl.col("axis").is_null()).drop("axis", "dof")

    def table(self) -> pl.DataFrame:
        """The flat per-group table (see ``disparity_table``)."""
        cols = [c for c in TABLE_COLUMNS if c in self.by_group.columns]
        return self.by_group.select(cols)


def disparity(
    data: pl.DataFrame,
    *,
    metric: Metric = "refusal",
    level: float = 0.95,
    adjust_within: Literal["model", "axis"] = "model",
    mean_test: MeanTest = "welch",
    n_boot: int = 2000,
    seed: int = 0,
) -> DisparityFrame:
    """Rates, intervals, tests and gaps of ``metric`` per model and group.

    ``data`` needs ``model, group, template_id`` and ``category`` (``toxicity`` for the
    toxicity metric); ``axis`` is optional. Unscored rows are left out. Raises ``DataError``
    for a missing column, unknown category, bad metric or no scored rows.
    """
    _check_options(level, adjust_within, mean_test)
    d = prepare(data, metric=metric)
    axis_on = has_axis(d)
    is_mean = metric == "toxicity"
    by_group = _by_group(
        d, is_mean=is_mean, level=level, adjust_within=adjust_within, mean_test=mean_test
    )
    overall = _rates(d, ["model"], level=level, is_mean=is_mean)
    tests = _overall_tests(d, axis_on=axis_on, is_mean=is_mean, mean_test=mean_test, seed=seed)
    gaps = _gaps(d, axis_on=axis_on, level=level, n_boot=n_boot, seed=seed)
    return DisparityFrame(
        metric=metric,
        level=level,
        by_group=by_group,
        overall=overall,
        tests=tests,
        gaps=gaps,
        has_axis=axis_on,
        adjust_within=adjust_within,
        mean_test=mean_test,
        n_boot=n_boot,
        seed=seed,
    )


def disparity_table(
    data: pl.DataFrame,
    *,
    metric: Metric = "refusal",
    level: float = 0.95,
    adjust_within: Literal["model", "axis"] = "model",
    mean_test: MeanTest = "welch",
) -> pl.DataFrame:
    """One row per model and group, sorted by model then rate (highest first).

    Columns: ``model, [axis], group, n, count, rate, ci_low, ci_high, [toxic_share,
    toxic_ci_low, toxic_ci_high], rate_rest, diff_vs_rest, test, statistic, p_value, p_holm,
    p_bh``. See ``DisparityFrame`` for their meaning.
    """
    _check_options(level, adjust_within, mean_test)
    by_group = _by_group(
        prepare(data, metric=metric),
        is_mean=metric == "toxicity",
        level=level,
        adjust_within=adjust_within,
        mean_test=mean_test,
    )
    return by_group.select([c for c in TABLE_COLUMNS if c in by_group.columns])


def _check_options(level: float, adjust_within: str, mean_test: str) -> None:
    if not 0 < level < 1:
        raise ValueError("level must lie strictly between 0 and 1")
    if adjust_within not in ("model", "axis"):
        raise ValueError("adjust_within must be 'model' or 'axis'")
    if mean_test not in ("welch", "mannwhitney"):
        raise DataError(f"unknown test {mean_test!r}: choose welch or mannwhitney")


def _by_group(
    d: pl.DataFrame,
    *,
    is_mean: bool,
    level: float,
    adjust_within: Literal["model", "axis"],
    mean_test: MeanTest,
) -> pl.DataFrame:
    """The per-group frame of ``DisparityFrame.by_group`` from a prepared frame."""
    by_group = _rates(d, ["model", "axis", "group"], level=level, is_mean=is_mean)
    by_group = _group_vs_rest(d, by_group, is_mean=is_mean, mean_test=mean_test)
    family = ["model", "axis"] if adjust_within == "axis" else ["model"]
    by_group = _adjust(by_group, family)
    by_group = by_group.sort("model", "rate", "group", descending=[False, True, False])
    return by_group if has_axis(d) else by_group.drop("axis")


# -- pieces ----------------------------------------------------------------------------------
def _rates(d: pl.DataFrame, keys: list[str], *, level: float, is_mean: bool) -> pl.DataFrame:
    agg = (
        d.group_by(keys)
        .agg(
            n=pl.len().cast(pl.Int64),
            count=pl.col("hit").sum().cast(pl.Int64),
            rate=pl.col("y").mean(),
            sd=pl.col("y").std(ddof=1),
        )
        .sort(keys, nulls_last=True)
    )
    n = agg.get_column("n").to_numpy()
    count = agg.get_column("count").to_numpy()
    if is_mean:
        low, high = t_interval(
            agg.get_column("rate").to_numpy(),
            agg.get_column("sd").fill_null(np.nan).to_numpy(),
            n,
            level=level,
        )
        tlow, thigh = wilson_interval(count, n, level=level)
        return agg.with_columns(
            ci_low=pl.Series(low),
            ci_high=pl.Series(high),
            toxic_share=pl.col("count") / pl.col("n"),
            toxic_ci_low=pl.Series(tlow),
            toxic_ci_high=pl.Series(thigh),
        )
    low, high = wilson_interval(count, n, level=level)
    return agg.drop("sd").with_columns(ci_low=pl.Series(low), ci_high=pl.Series(high))


def _group_vs_rest(
    d: pl.DataFrame, rates: pl.DataFrame, *, is_mean: bool, mean_test: MeanTest
) -> pl.DataFrame:
    """Add ``rate_rest, diff_vs_rest, test, statistic, p_value`` (group against the rest)."""
    totals = rates.group_by("model", "axis").agg(
        N=pl.col("n").sum(), K=pl.col("count").sum(), S=(pl.col("rate") * pl.col("n")).sum()
    )
    rates = rates.join(totals, on=["model", "axis"], how="left", nulls_equal=True)
    samples: dict[tuple, np.ndarray] = {}
    if is_mean:
        for key, part in d.partition_by("model", "axis", "group", as_dict=True).items():
            samples[key] = part.get_column("y").to_numpy()
    tests, stats, ps, rest = [], [], [], []
    for row in rates.iter_rows(named=True):
        n_rest = row["N"] - row["n"]
        if n_rest == 0:
            tests.append("n/a")
            stats.append(float("nan"))
            ps.append(float("nan"))
            rest.append(float("nan"))
            continue
        rest.append((row["S"] - row["rate"] * row["n"]) / n_rest)
        if is_mean:
            key = (row["model"], row["axis"], row["group"])
            others = [
                v
                for k, v in samples.items()
                if k[0] == row["model"] and k[1] == row["axis"] and k[2] != row["group"]
            ]
            res = two_sample(samples[key], np.concatenate(others), method=mean_test)
        else:
            k_rest = row["K"] - row["count"]
            res = two_by_two([[row["count"], row["n"] - row["count"]], [k_rest, n_rest - k_rest]])
        tests.append(res.test)
        stats.append(res.statistic)
        ps.append(res.p_value)
    return rates.drop("N", "K", "S").with_columns(
        rate_rest=pl.Series(rest, dtype=pl.Float64),
        diff_vs_rest=pl.col("rate") - pl.Series(rest, dtype=pl.Float64),
        test=pl.Series(tests, dtype=pl.String),
        statistic=pl.Series(stats, dtype=pl.Float64),
        p_value=pl.Series(ps, dtype=pl.Float64),
    )


def _adjust(rates: pl.DataFrame, family: list[str]) -> pl.DataFrame:
    """Add ``p_holm`` and ``p_bh``: corrections within each family of tests."""
    rates = rates.with_row_index("_i")
    holm = np.full(rates.height, np.nan)
    bh = np.full(rates.height, np.nan)
    for part in rates.partition_by(family, maintain_order=True):
        idx = part.get_column("_i").to_numpy()
        h, b = adjust(part.get_column("p_value").to_numpy())
        holm[idx], bh[idx] = h, b
    return rates.drop("_i").with_columns(p_holm=pl.Series(holm), p_bh=pl.Series(bh))


def _overall_tests(
    d: pl.DataFrame, *, axis_on: bool, is_mean: bool, mean_test: MeanTest, seed: int
) -> pl.DataFrame:
    rows = []
    scopes: list[tuple[str, str | None, pl.DataFrame]] = []
    for (model,), part in d.partition_by("model", as_dict=True).items():
        scopes.append((model, None, part))
        if axis_on:
            for (axis,), sub in part.partition_by("axis", as_dict=True).items():
                if axis is not None:  # rows without an axis count only in the model row
                    scopes.append((model, axis, sub))
    for model, axis, part in scopes:
        keys = ["axis", "group"]
        if is_mean:
            groups = part.partition_by(keys)
            res = k_sample([g.get_column("y").to_numpy() for g in groups], method=mean_test)
            n_groups = len(groups)
        else:
            agg = part.group_by(keys).agg(k=pl.col("hit").sum(), n=pl.len()).sort(keys)
            k = agg.get_column("k").to_numpy()
            n = agg.get_column("n").to_numpy()
            res = contingency(np.column_stack([k, n - k]), seed=seed)
            n_groups = agg.height
        rows.append(
            {
                "model": model,
                "axis": axis,
                "n_groups": n_groups,
                "test": res.test,
                "statistic": res.statistic,
                "dof": res.dof,
                "p_value": res.p_value,
            }
        )
    schema = {
        "model": pl.String,
        "axis": pl.String,
        "n_groups": pl.Int64,
        "test": pl.String,
        "statistic": pl.Float64,
        "dof": pl.Float64,
        "p_value": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort("model", "axis", nulls_last=False)


def _gaps(d: pl.DataFrame, *, axis_on: bool, level: float, n_boot: int, seed: int) -> pl.DataFrame:
    rows = []
    for (model,), part in sorted(d.partition_by("model", as_dict=True).items()):
        units, keys, n, s = template_matrix(part, value="y", key=("axis", "group"))
        scopes: list[tuple[str | None, np.ndarray]] = [(None, np.arange(len(keys)))]
        if axis_on:
            axes = sorted({k[0] for k in keys if k[0] is not None})
            scopes += [(a, np.array([i for i, k in enumerate(keys) if k[0] == a])) for a in axes]
        weights = bootstrap_weights(len(units), n_boot, seed=seed) if n_boot > 0 else []
        if weights:
            nb, sb = bootstrap_sums(weights, n, s)
        for axis, cols in scopes:
            ng, sg = n[:, cols].sum(axis=0), s[:, cols].sum(axis=0)
            rates = safe_ratio(sg, ng)
            overall = np.asarray(sg.sum() / ng.sum())
            point = gap_statistics(rates, overall)
            if weights:
                rb = safe_ratio(sb[:, cols], nb[:, cols])
                ob = safe_ratio(sb[:, cols].sum(axis=1), nb[:, cols].sum(axis=1))
                boot = gap_statistics(rb, ob)
            names = [keys[i][1] for i in cols]
            hi = names[int(np.nanargmax(rates))]
            lo = names[int(np.nanargmin(rates))]
            for method in GAP_METHODS:
                diff_ci = ratio_ci = (float("nan"), float("nan"))
                if weights:
                    diff_ci = percentile_interval(boot[f"{method}_difference"], level=level)
                    ratio_ci = percentile_interval(boot[f"{method}_ratio"], level=level)
                rows.append(
                    {
                        "model": model,
                        "axis": axis,
                        "method": method,
                        "difference": float(point[f"{method}_difference"]),
                        "diff_ci_low": diff_ci[0],
                        "diff_ci_high": diff_ci[1],
                        "ratio": float(point[f"{method}_ratio"]),
                        "ratio_ci_low": ratio_ci[0],
                        "ratio_ci_high": ratio_ci[1],
                        "group_max": hi,
                        "group_min": lo,
                        "n_templates": int((n[:, cols].sum(axis=1) > 0).sum()),
                    }
                )
    schema = {
        "model": pl.String,
        "axis": pl.String,
        "method": pl.String,
        "difference": pl.Float64,
        "diff_ci_low": pl.Float64,
        "diff_ci_high": pl.Float64,
        "ratio": pl.Float64,
        "ratio_ci_low": pl.Float64,
        "ratio_ci_high": pl.Float64,
        "group_max": pl.String,
        "group_min": pl.String,
        "n_templates": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
