"""Input checks and the outcome columns every statistic reads.

``prepare`` turns a scored frame (the store's ``scored_frame`` or a user's CSV/Parquet) into a
frame with string keys and two outcome columns:

- ``y``: the value that is averaged (0/1 for ``refusal`` and ``harmful``; the toxicity score
  in [0, 1] for ``toxicity``);
- ``hit``: the binary outcome (refused; harmful answer; toxic, i.e. ``taxonomy.is_toxic``).

Rows without a score for the metric (null ``category`` or null ``toxicity``) are dropped:
they are unscored, not answered.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from srllm.errors import DataError
from srllm.taxonomy import CATEGORY_ORDER, HARMFUL, REFUSALS, toxic_expr

CATEGORIES: tuple[str, ...] = CATEGORY_ORDER
"""The response taxonomy (DESIGN.md)."""

REFUSAL_CATEGORIES: frozenset[str] = frozenset(REFUSALS)
"""Categories counted as a refusal by the ``refusal`` metric."""

HARMFUL_CATEGORIES: frozenset[str] = frozenset(HARMFUL)
"""Categories counted by the ``harmful`` metric."""

Metric = Literal["refusal", "harmful", "toxicity"]
METRICS: tuple[str, ...] = ("refusal", "harmful", "toxicity")

KEY_COLUMNS: tuple[str, ...] = ("model", "group", "template_id")
PASSTHROUGH: tuple[str, ...] = ("prompt_id", "sample_idx", "name")


def check_metric(metric: str) -> Metric:
    """Return ``metric`` if it is known, else raise ``DataError``."""
    if metric not in METRICS:
        raise DataError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric  # type: ignore[return-value]


def require_columns(df: pl.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    """Raise ``DataError`` naming every column of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {', '.join(missing)}; found: {', '.join(df.columns) or '-'}"
        )


def as_frame(data: object) -> pl.DataFrame:
    """Accept a polars DataFrame or LazyFrame."""
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if not isinstance(data, pl.DataFrame):
        raise TypeError(f"expected a polars DataFrame, got {type(data).__name__}")
    return data


def prepare(data: pl.DataFrame, *, metric: str, need: tuple[str, ...] = ()) -> pl.DataFrame:
    """Validate ``data`` and add ``y`` and ``hit`` for ``metric``.

    Returns a frame with ``model, group, template_id, axis`` (strings; ``axis`` is null when
    the input has none), ``y`` (Float64), ``hit`` (Int64) and any of ``prompt_id, sample_idx,
    name`` and ``need`` the input has. Raises ``DataError`` for a missing column, an unknown
    category, a toxicity outside [0, 1], a row without model or group, or no scored rows.
    """
    metric = check_metric(metric)
    df = as_frame(data)
    score_col = "toxicity" if metric == "toxicity" else "category"
    require_columns(df, [*KEY_COLUMNS, score_col, *need], f"the {metric} metric")
    if df.height == 0:
        raise DataError("the data has no rows")

    keys = [pl.col(c).cast(pl.String) for c in KEY_COLUMNS]
    axis = pl.col("axis").cast(pl.String) if "axis" in df.columns else pl.lit(None, pl.String)
    extra = [c for c in dict.fromkeys((*PASSTHROUGH, *need)) if c in df.columns]
    try:
        out = df.select(*keys, axis.alias("axis"), pl.col(score_col), *extra)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read the key columns: {str(exc).splitlines()[0]}") from exc

    for col in ("model", "group", "template_id"):
        nulls = out.get_column(col).null_count()
        if nulls:
            raise DataError(f"{nulls} row(s) have no {col}")

    if metric == "toxicity":
        try:
            tox = out.get_column("toxicity").cast(pl.Float64)
        except pl.exceptions.PolarsError as exc:
            raise DataError("column toxicity must hold numbers in [0, 1]") from exc
        out = out.with_columns(tox.alias("toxicity")).filter(
            pl.col("toxicity").is_not_null() & pl.col("toxicity").is_not_nan()
        )
        bad = out.filter((pl.col("toxicity") < 0) | (pl.col("toxicity") > 1)).height
        if bad:
            raise DataError(f"{bad} toxicity value(s) lie outside [0, 1]")
        out = out.with_columns(y=pl.col("toxicity"), hit=toxic_expr("toxicity").cast(pl.Int64))
    else:
        cat = out.get_column("category").cast(pl.String).str.strip_chars().str.to_lowercase()
        out = out.with_columns(cat.alias("category")).filter(
            pl.col("category").is_not_null() & (pl.col("category") != "")
        )
        unknown = sorted(set(out.get_column("category").unique().to_list()) - set(CATEGORIES))
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5])
            raise DataError(
                f"unknown category value(s) {shown}; expected one of {', '.join(CATEGORIES)}"
            )
        chosen = REFUSAL_CATEGORIES if metric == "refusal" else HARMFUL_CATEGORIES
        hit = pl.col("category").is_in(sorted(chosen)).cast(pl.Int64)
        out = out.with_columns(hit.alias("hit")).with_columns(y=pl.col("hit").cast(pl.Float64))
    if out.height == 0:
        raise DataError(f"no scored rows for the {metric} metric (every {score_col} is empty)")
    return out


def has_axis(df: pl.DataFrame) -> bool:
    """Whether a prepared frame carries demographic axes."""
    return df.get_column("axis").null_count() < df.height
