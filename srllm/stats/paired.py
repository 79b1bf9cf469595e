"""Paired counterfactual analysis: one request, only the group changes.

Rows that share a ``template_id`` (within a model, and within an axis when the data has
axes) form a block: the same request asked for each group. Per block and group one binary
outcome is kept (refused; harmful answer; toxic for the toxicity metric, by
``taxonomy.is_toxic``):

- ``agg="majority"`` (default): the outcome is 1 when at least half of the block's rows for
  that group have it (several names per group or several samples per prompt; a tie counts
  as 1, so a template refused for one of two names counts as refused);
- ``agg="first"``: the first row, ordered by ``sample_idx`` then ``prompt_id`` where those
  columns exist, else by input order.

Tests use the templates that are *complete* (present for every group of the block):
Cochran's Q (``statsmodels.stats.contingency_tables.cochrans_q``) with three or more groups,
McNemar with two. The flip table compares every ordered pair of groups (A, B) on the templates
present for both: ``flip_rate`` is the share answered for A (outcome 0) and refused for B
(outcome 1), with a McNemar test of the pair (Holm-adjusted over the block's pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import polars as pl
from statsmodels.stats.contingency_tables import cochrans_q

from srllm.stats._prep import Metric, has_axis, prepare
from srllm.stats.significance import HypothesisTest, adjust, mcnemar_test

Agg = Literal["majority", "first"]


@dataclass(frozen=True, eq=False)
class CounterfactualResult:
    """Paired analysis of one metric over counterfactual templates.

    Attributes:
        metric: the metric.
        agg: how several rows per template and group became one outcome.
        has_axis: whether blocks are split by axis (then every frame has an ``axis`` column).
        blocks: one row per model (and axis): ``model, [axis], n_groups, n_templates,
            n_complete, n_inconsistent, inconsistent_share, test, statistic, dof, p_value``.
            ``n_inconsistent`` counts complete templates whose outcome is not the same for
            every group. ``test`` is ``cochran_q``, ``mcnemar_exact``/``mcnemar_chi2`` (two
            groups) or ``n/a`` (fewer than two groups or no complete template).
        by_group: ``model, [axis], group, n_complete, count, rate``: the outcome rate of each
            group over the complete templates (what Cochran's Q compares).
        flips: one row per ordered pair: ``model, [axis], group_a, group_b, n_templates,
            flips, flip_rate, flips_reverse, net_flip_rate, test, p_value, p_holm``.
            ``flips`` = templates with outcome 0 for A and 1 for B, ``flips_reverse`` the
            opposite, ``net_flip_rate = (flips - flips_reverse) / n_templates``.
    """

    metric: Metric
    agg: Agg
    has_axis: bool
    blocks: pl.DataFrame
    by_group: pl.DataFrame
    flips: pl.DataFrame

    def flip_matrix(self, model: str, *, axis: str | None = None) -> pl.DataFrame:
        """The flip rates of one model (and axis) as a square table.

        Column ``group_a`` names the row; then one column per group B holding the share of
        templates answered for A and refused for B (null on the diagonal).
        """
        f = self.flips.filter(pl.col("model") == model)
        if self.has_axis:
            f = f.filter(pl.col("axis").is_null() if axis is None else pl.col("axis") == axis)
            if axis is None and f.height == 0:
                f = self.flips.filter(pl.col("model") == model)
        groups = sorted(set(f.get_column("group_a").to_list()) | set(f.get_column("group_b")))
        rates = {(a, b): r for a, b, r in f.select("group_a", "group_b", "flip_rate").iter_rows()}
        data: dict[str, list] = {"group_a": groups}
        for b in groups:
            data[b] = [rates.get((a, b)) for a in groups]
        return pl.DataFrame(
            data, schema={"group_a": pl.String, **dict.fromkeys(groups, pl.Float64)}
        )


def template_outcomes(
    data: pl.DataFrame, *, metric: Metric = "refusal", agg: Agg = "majority"
) -> pl.DataFrame:
    """One outcome per model, axis, template and group (see the module notes on ``agg``).

    Columns: ``model, axis, template_id, group, x, rows`` (``x`` in {0, 1}; ``rows`` = how
    many rows were aggregated).
    """
    if agg not in ("majority", "first"):
        raise ValueError(f"agg must be 'majority' or 'first', got {agg!r}")
    d = prepare(data, metric=metric)
    order = [c for c in ("sample_idx", "prompt_id") if c in d.columns]
    if order:
        d = d.sort(order, nulls_last=True, maintain_order=True)
    keys = ["model", "axis", "template_id", "group"]
    if agg == "majority":
        x = (pl.col("hit").mean() >= 0.5).cast(pl.Int64)
    else:
        x = pl.col("hit").first().cast(pl.Int64)
    return d.group_by(keys, maintain_order=True).agg(x=x, rows=pl.len().cast(pl.Int64))


def counterfactual(
    data: pl.DataFrame, *, metric: Metric = "refusal", agg: Agg = "majority"
) -> CounterfactualResult:
    """Cochran's Q / McNemar across groups on the same templates, and the flip table.

    ``data`` needs ``model, group, template_id`` and ``category`` (``toxicity`` for the
    toxicity metric); ``axis``, ``sample_idx`` and ``prompt_id`` are used when present.
    """
    cells = template_outcomes(data, metric=metric, agg=agg)
    axis_on = has_axis(cells)
    block_rows, group_rows, flip_rows = [], [], []
    for (model, axis), part in sorted(
        cells.partition_by("model", "axis", as_dict=True).items(), key=lambda kv: _key(kv[0])
    ):
        groups = sorted(set(part.get_column("group").to_list()))
        wide = part.pivot(on="group", index="template_id", values="x", aggregate_function="first")
        mat = wide.select(groups).to_numpy().astype(float)  # templates x groups, NaN = missing
        complete = mat[~np.isnan(mat).any(axis=1)].astype(np.int64)
        res = _block_test(complete)
        inconsistent = (
            int((complete.min(axis=1) != complete.max(axis=1)).sum()) if len(complete) else 0
        )
        block_rows.append(
            {
                "model": model,
                "axis": axis,
                "n_groups": len(groups),
                "n_templates": wide.height,
                "n_complete": len(complete),
                "n_inconsistent": inconsistent,
                "inconsistent_share": inconsistent / len(complete) if len(complete) else None,
                "test": res.test,
                "statistic": res.statistic,
                "dof": res.dof,
                "p_value": res.p_value,
            }
        )
        for j, g in enumerate(groups):
            cnt = int(complete[:, j].sum()) if len(complete) else 0
            group_rows.append(
                {
                    "model": model,
                    "axis": axis,
                    "group": g,
                    "n_complete": len(complete),
                    "count": cnt,
                    "rate": cnt / len(complete) if len(complete) else None,
                }
            )
        flip_rows.extend(_flips(model, axis, groups, mat))

    blocks = pl.DataFrame(block_rows, schema=_BLOCK_SCHEMA)
    by_group = pl.DataFrame(group_rows, schema=_GROUP_SCHEMA)
    flips = pl.DataFrame(flip_rows, schema=_FLIP_SCHEMA)
    if not axis_on:
        blocks, by_group, flips = (f.drop("axis") for f in (blocks, by_group, flips))
    return CounterfactualResult(
        metric=metric, agg=agg, has_axis=axis_on, blocks=blocks, by_group=by_group, flips=flips
    )


def _key(k: tuple) -> tuple:
    return tuple("" if x is None else str(x) for x in k)


def _block_test(x: np.ndarray) -> HypothesisTest:
    """Cochran's Q (>= 3 groups) or McNemar (2 groups) on complete templates x groups."""
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] == 0:
        return HypothesisTest("n/a", float("nan"), float("nan"))
    if x.shape[1] == 2:
        b = int(((x[:, 0] == 0) & (x[:, 1] == 1)).sum())
        c = int(((x[:, 0] == 1) & (x[:, 1] == 0)).sum())
        return mcnemar_test(b, c)
    k = x.shape[1]
    row = x.sum(axis=1)
    if not np.any((row > 0) & (row < k)):
        # every template has the same outcome for all groups: Q is 0/0; no evidence at all
        return HypothesisTest("cochran_q", 0.0, 1.0, float(k - 1))
    res = cochrans_q(x)
    return HypothesisTest("cochran_q", float(res.statistic), float(res.pvalue), float(res.df))


def _flips(model: str, axis: str | None, groups: list[str], mat: np.ndarray) -> list[dict]:
    pair_stats: dict[tuple[str, str], tuple[int, int, int, HypothesisTest]] = {}
    for i, j in combinations(range(len(groups)), 2):
        both = ~np.isnan(mat[:, i]) & ~np.isnan(mat[:, j])
        a, b = mat[both, i], mat[both, j]
        ab = int(((a == 0) & (b == 1)).sum())
        ba = int(((a == 1) & (b == 0)).sum())
        pair_stats[(groups[i], groups[j])] = (int(both.sum()), ab, ba, mcnemar_test(ab, ba))
    pairs = list(pair_stats)
    holm, _ = adjust([pair_stats[p][3].p_value for p in pairs])
    holm_of = dict(zip(pairs, holm, strict=True))
    rows = []
    for (ga, gb), (n, ab, ba, res) in pair_stats.items():
        for x, y, fwd, rev in ((ga, gb, ab, ba), (gb, ga, ba, ab)):
            rows.append(
                {
                    "model": model,
                    "axis": axis,
                    "group_a": x,
                    "group_b": y,
                    "n_templates": n,
                    "flips": fwd,
                    "flip_rate": fwd / n if n else None,
                    "flips_reverse": rev,
                    "net_flip_rate": (fwd - rev) / n if n else None,
                    "test": res.test,
                    "p_value": res.p_value,
                    "p_holm": float(holm_of[(ga, gb)]),
                }
            )
    rows.sort(key=lambda r: (r["group_a"], r["group_b"]))
    return rows


_BLOCK_SCHEMA = {
    "model": pl.String,
    "axis": pl.String,
    "n_groups": pl.Int64,
    "n_templates": pl.Int64,
    "n_complete": pl.Int64,
    "n_inconsistent": pl.Int64,
    "inconsistent_share": pl.Float64,
    "test": pl.String,
    "statistic": pl.Float64,
    "dof": pl.Float64,
    "p_value": pl.Float64,
}
_GROUP_SCHEMA = {
    "model": pl.String,
    "axis": pl.String,
    "group": pl.String,
    "n_complete": pl.Int64,
    "count": pl.Int64,
    "rate": pl.Float64,
}
_FLIP_SCHEMA = {
    "model": pl.String,
    "axis": pl.String,
    "group_a": pl.String,
    "group_b": pl.String,
    "n_templates": pl.Int64,
    "flips": pl.Int64,
    "flip_rate": pl.Float64,
    "flips_reverse": pl.Int64,
    "net_flip_rate": pl.Float64,
    "test": pl.String,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
}
