"""Inter-annotator agreement on human labels: Cohen's kappa and Fleiss' kappa.

Input is long: one row per item and annotator (the store's ``labels`` frame: ``generation_id,
annotator, category`` and ``group``). To compare people with the automatic classifier, add its
labels as one more annotator.

- Two annotators: Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) over the items both
  labelled.
- Three or more: Fleiss' kappa (``statsmodels.stats.inter_rater.fleiss_kappa`` on
  ``aggregate_raters``), which needs the same number of ratings per item: it uses the items
  with exactly ``m`` ratings, where ``m`` is the most common number of ratings per item among
  items rated at least twice (ties go to the larger ``m``). Which annotators rated an item
  does not matter to Fleiss' kappa.

``kappa`` is NaN when chance agreement is 1 (every label the same), where kappa is undefined;
``observed`` (the raw share of agreeing pairs) is still given.

:func:`binary_agreement_by_group` compares two yes/no calls made on the same rows (a judge,
such as the toxicity scorer, against people's judgement): Cohen's kappa and the 2x2 counts.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from srllm.errors import DataError
from srllm.stats._prep import as_frame, require_columns
from srllm.stats.correction import error_rates

Method = Literal["auto", "cohen", "fleiss"]


@dataclass(frozen=True)
class Agreement:
    """Agreement of annotators on a set of items.

    Attributes:
        method: ``cohen``, ``fleiss`` or ``n/a`` (fewer than two ratings on every item).
        kappa: Cohen's or Fleiss' kappa (NaN when undefined).
        observed: observed agreement (share of agreeing rating pairs).
        n_items: items used.
        n_raters: ratings per item used (2 for Cohen).
        annotators: the annotators whose ratings were used.
    """

    method: str
    kappa: float
    observed: float
    n_items: int
    n_raters: int
    annotators: tuple[str, ...]


def cohen_kappa(a: list | np.ndarray, b: list | np.ndarray) -> float:
    """Cohen's kappa of two equally long label sequences (NaN when undefined)."""
    from sklearn.metrics import cohen_kappa_score  # lazy: sklearn takes seconds to import

    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError("the two label sequences differ in length")
    if not a or len(set(a) | set(b)) < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(a, b))


def fleiss(ratings: np.ndarray) -> float:
    """Fleiss' kappa of an items x ratings array of labels (NaN when undefined)."""
    ratings = np.asarray(ratings)
    if ratings.ndim != 2 or ratings.shape[0] == 0 or ratings.shape[1] < 2:
        return float("nan")
    _, codes = np.unique(ratings, return_inverse=True)
    table, _ = aggregate_raters(codes.reshape(ratings.shape))
    if table.shape[1] < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(fleiss_kappa(table, method="fleiss"))


def _clean(
    labels: pl.DataFrame, item: str, rater: str, label: str, extra: tuple[str, ...] = ()
) -> pl.DataFrame:
    df = as_frame(labels)
    require_columns(df, [item, rater, label, *extra], "agreement")
    df = df.select(
        pl.col(item).cast(pl.String).alias("_item"),
        pl.col(rater).cast(pl.String).alias("_rater"),
        pl.col(label).cast(pl.String).alias("_label"),
        *[pl.col(c) for c in extra],
    ).filter(pl.col("_item").is_not_null() & pl.col("_rater").is_not_null())
    df = df.filter(pl.col("_label").is_not_null())
    dup = df.filter(pl.struct("_item", "_rater").is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        raise DataError(
            f"annotator {first['_rater']!r} labelled item {first['_item']!r} more than once"
        )
    return df


def _resolve(df: pl.DataFrame, method: Method) -> tuple[str, int]:
    """The method and, for Fleiss, the ratings per item to use."""
    raters = df.get_column("_rater").n_unique()
    if method == "auto":
        method = "cohen" if raters <= 2 else "fleiss"
    if method == "cohen":
        if raters > 2:
            raise DataError(
                f"Cohen's kappa compares two annotators; the labels have {raters} (use Fleiss')"
            )
        return "cohen", 2
    per_item = Counter(df.group_by("_item").len().get_column("len").to_list())
    candidates = [(c, m) for m, c in per_item.items() if m >= 2]
    return "fleiss", max(candidates)[1] if candidates else 2


def _agreement(df: pl.DataFrame, method: str, m: int) -> Agreement:
    if method == "cohen":
        raters = sorted(set(df.get_column("_rater").to_list()))
        if len(raters) < 2:
            return Agreement("n/a", float("nan"), float("nan"), 0, 2, tuple(raters))
        wide = df.pivot(on="_rater", index="_item", values="_label").drop_nulls(raters)
        a = wide.get_column(raters[0]).to_list()
        b = wide.get_column(raters[1]).to_list()
        observed = float(np.mean([x == y for x, y in zip(a, b, strict=True)])) if a else np.nan
        return Agreement("cohen", cohen_kappa(a, b), observed, len(a), 2, tuple(raters))
    counts = df.group_by("_item").agg(pl.len(), pl.col("_label"), pl.col("_rater"))
    used = counts.filter(pl.col("len") == m)
    if used.height == 0:
        return Agreement("n/a", float("nan"), float("nan"), 0, m, ())
    ratings = np.array(used.get_column("_label").to_list(), dtype=object)
    _, codes = np.unique(ratings.astype(str), return_inverse=True)
    table, _ = aggregate_raters(codes.reshape(ratings.shape))
    observed = float(np.mean(((table**2).sum(axis=1) - m) / (m * (m - 1))))
    annotators = tuple(sorted({r for rs in used.get_column("_rater").to_list() for r in rs}))
    return Agreement("fleiss", fleiss(ratings.astype(str)), observed, used.height, m, annotators)


def agreement(
    labels: pl.DataFrame,
    *,
    item: str = "generation_id",
    rater: str = "annotator",
    label: str = "category",
    method: Method = "auto",
) -> Agreement:
    """Cohen's kappa for two annotators, Fleiss' kappa for more (``method`` forces one)."""
    df = _clean(labels, item, rater, label)
    if df.height == 0:
        raise DataError("no labels to compare")
    name, m = _resolve(df, method)
    return _agreement(df, name, m)


def agreement_by_group(
    labels: pl.DataFrame,
    *,
    by: str = "group",
    item: str = "generation_id",
    rater: str = "annotator",
    label: str = "category",
    method: Method = "auto",
) -> pl.DataFrame:
    """Agreement overall and per value of ``by``.

    Columns: ``by`` (null on the row for all items), ``method, kappa, observed, n_items,
    n_raters``. The method and ratings per item are chosen once on all labels, so the rows
    are comparable.
    """
    df = _clean(labels, item, rater, label, extra=(by,))
    if df.height == 0:
        raise DataError("no labels to compare")
    name, m = _resolve(df, method)
    rows = []
    scopes: list[tuple[str | None, pl.DataFrame]] = [(None, df)]
    for (value,), part in sorted(
        df.partition_by(by, as_dict=True).items(), key=lambda kv: str(kv[0][0])
    ):
        scopes.append((None if value is None else str(value), part))
    for value, part in scopes:
        res = _agreement(part, name, m)
        rows.append(
            {
                by: value,
                "method": res.method,
                "kappa": res.kappa,
                "observed": res.observed,
                "n_items": res.n_items,
                "n_raters": res.n_raters,
            }
        )
    schema = {
        by: pl.String,
        "method": pl.String,
        "kappa": pl.Float64,
        "observed": pl.Float64,
        "n_items": pl.Int64,
        "n_raters": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


_BINARY_SCHEMA = {
    "kappa": pl.Float64,
    "observed": pl.Float64,
    "n_items": pl.Int64,
    "tp": pl.Int64,
    "fn": pl.Int64,
    "tn": pl.Int64,
    "fp": pl.Int64,
}


def _as_bool(df: pl.DataFrame, column: str) -> pl.Expr:
    """A yes/no column (booleans, or 0/1) as booleans; a ``DataError`` for anything else."""
    values = df.get_column(column).drop_nulls()
    if values.dtype != pl.Boolean and values.len():
        bad = values.unique().to_list() if not values.dtype.is_numeric() else None
        bad = bad or [v for v in values.unique().to_list() if v not in (0, 1)]
        if bad:
            raise DataError(f"{column} must be a yes/no call (true/false or 1/0), not {bad[0]!r}")
    return pl.col(column).cast(pl.Boolean)


def binary_agreement_by_group(
    frame: pl.DataFrame, *, judge: str, human: str, by: str = "group"
) -> pl.DataFrame:
    """Cohen's kappa and the counts of a judge's yes/no call against people's, by ``by``.

    ``frame`` has one row per item: ``by`` and the two calls (booleans or 1/0; rows where
    either is null are left out). Returns the row for all items (``by`` null) first, then one
    per value of ``by``, with ``kappa`` (NaN where undefined: every call the same class, or
    no items), ``observed`` (the share of items where the two agree), ``n_items``, and the
    counts taking people's call as the truth: ``tp`` (both yes), ``fn`` (people yes, judge
    no), ``tn`` (both no), ``fp`` (judge yes, people no).
    """
    df = as_frame(frame)
    require_columns(df, [by, judge, human], "agreement")
    df = df.select(
        pl.col(by).cast(pl.String).alias("_by"),
        _as_bool(df, judge).alias("_judge"),
        _as_bool(df, human).alias("_human"),
    ).drop_nulls(["_judge", "_human"])
    if df.height == 0:
        raise DataError("no rows with both calls to compare")
    scopes: list[tuple[str | None, pl.DataFrame]] = [(None, df)]
    for (value,), part in sorted(
        df.partition_by("_by", as_dict=True).items(), key=lambda kv: str(kv[0][0])
    ):
        scopes.append((value, part))
    rows = []
    for value, part in scopes:
        j, h = part.get_column("_judge").to_numpy(), part.get_column("_human").to_numpy()
        er = error_rates(j, h, "")
        rows.append(
            {
                by: value,
                "kappa": cohen_kappa(j, h),
                "observed": float(np.mean(j == h)),
                "n_items": part.height,
                "tp": er.tp,
                "fn": er.fn,
                "tn": er.tn,
                "fp": er.fp,
            }
        )
    return pl.DataFrame(rows, schema={by: pl.String, **_BINARY_SCHEMA})
