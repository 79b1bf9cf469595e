"""Selecting the prompts where a harm is a harm (the ``kind`` dimension)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from srllm.errors import DataError
from srllm.taxonomy import KIND_ALL, default_kind, kind_values


@dataclass(frozen=True)
class KindChoice:
    """Which kind was analysed and what that means, for a caption or a CLI note."""

    kind: str
    asked: str | None
    n_rows: int
    n_all: int
    note: str


def select_kind(
    data: pl.DataFrame, metric: str, kind: str | None = None
) -> tuple[pl.DataFrame, KindChoice]:
    """Rows of ``kind`` (default: by metric, ``taxonomy.default_kind``) and what was chosen.

    Data without a ``kind`` column is analysed whole (said in the note). Asking for a kind
    the data does not hold is a ``DataError`` naming the kinds it has.
    """
    chosen = kind or default_kind(metric)
    if "kind" not in data.columns:
        note = "no kind column: every prompt is analysed together"
        return data, KindChoice(KIND_ALL, kind, data.height, data.height, note)
    values = kind_values(chosen)
    if values is None:
        note = "every prompt kind pooled (--kind all)"
        return data, KindChoice(KIND_ALL, kind, data.height, data.height, note)
    have = sorted({str(k) for k in data["kind"].drop_nulls().unique().to_list()})
    out = data.filter(pl.col("kind").cast(pl.String).is_in(list(values)))
    if out.height == 0:
        if kind is None:  # the default kind is absent: analyse what there is, and say so
            note = f"no {chosen} prompts here: every kind pooled ({', '.join(have) or '-'})"
            return data, KindChoice(KIND_ALL, kind, data.height, data.height, note)
        raise DataError(f"no rows of kind {chosen!r}; the data holds: {', '.join(have) or '-'}")
    what = {
        "benign": "benign prompts (refusing them is the quality-of-service harm)",
        "stereotype": "stereotype-inviting prompts (a harmful answer is the harm there)",
    }
    note = f"{what.get(chosen, chosen + ' prompts')}: {out.height} of {data.height} rows"
    return out, KindChoice(chosen, kind, out.height, data.height, note)
