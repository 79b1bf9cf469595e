"""Read the StereoSet intrasentence items by path (third-party data is never copied here)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from srllm.config import SHARED_DATA
from srllm.errors import DataError

DOMAINS: tuple[str, ...] = ("gender", "profession", "race", "religion")
"""StereoSet's four bias types, in the order the official scorer reports them."""

OVERALL = "overall"
"""The domain label of the figure over every target term of every domain."""

SENTENCE_COLUMNS: tuple[str, str, str] = ("stereotype", "anti_stereotype", "unrelated")
"""The three fillings of an item's BLANK, as columns of the intrasentence CSV."""

REQUIRED_COLUMNS: tuple[str, ...] = ("item_index", "bias_type", "target", *SENTENCE_COLUMNS)

SCORE_COLUMNS: tuple[str, str, str] = (
    "score_stereotype",
    "score_anti_stereotype",
    "score_unrelated",
)
"""Per-item sentence scores (any scale that ranks like the official one; higher = likelier)."""


def default_data_path() -> Path:
    """``../shared/data/stereoset/stereoset_intrasentence_dev.csv`` (``SRLLM_SHARED_DATA``)."""
    return SHARED_DATA / "stereoset" / "stereoset_intrasentence_dev.csv"


def load_intrasentence(path: str | Path | None = None, *, limit: int | None = None) -> pl.DataFrame:
    """The intrasentence items: one row per context with its three sentences.

    Columns ``item_index`` (Int64), ``bias_type``, ``target``, ``stereotype``,
    ``anti_stereotype``, ``unrelated`` (strings) and any other columns of the file.
    ``limit`` keeps the first N items in file order. Raises ``DataError`` with one line
    when the file is missing or unreadable, a column is missing, or a cell is empty.
    """
    p = Path(path).expanduser() if path is not None else default_data_path()
    if limit is not None and limit < 1:
        raise DataError(f"limit must be a positive number of items, not {limit}")
    if not p.is_file():
        raise DataError(
            f"StereoSet data not found at {p} (pass --data PATH to the intrasentence CSV)"
        )
    try:
        df = pl.read_csv(p, infer_schema_length=0, n_rows=limit)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read StereoSet data {p}: {first[:200]}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{p} lacks StereoSet column(s) {', '.join(missing)} "
            f"(needs {', '.join(REQUIRED_COLUMNS)})"
        )
    if df.height == 0:
        raise DataError(f"{p} has no StereoSet items")
    for col in REQUIRED_COLUMNS:
        bad = df.filter(pl.col(col).is_null() | (pl.col(col).str.strip_chars() == ""))
        if bad.height:
            raise DataError(f"{p}: column {col!r} is empty in {bad.height} row(s)")
    try:
        df = df.with_columns(pl.col("item_index").str.strip_chars().cast(pl.Int64))
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{p}: item_index must be whole numbers") from exc
    if df["item_index"].n_unique() != df.height:
        raise DataError(f"{p}: item_index has duplicates")
    return df
