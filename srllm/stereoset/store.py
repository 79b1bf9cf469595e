"""StereoSet results in the DuckDB store (table ``stereoset_results``) and as a polars table.

The table comes from the numbered migration ``002_stereoset.sql`` and every statement lives
in :class:`srllm.store.Store` (short-lived connections, parameterized SQL only). One
evaluation of one model is stored under a *run label*; each label keeps its rows, so figures
can be compared over time like audit runs, and re-using a label replaces its figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from srllm.errors import DataError
from srllm.stereoset.metrics import CI_COLUMNS

VALUE_COLUMNS: tuple[str, ...] = ("n_items", "n_terms", "lms", "ss", "icat", *CI_COLUMNS)
TABLE_COLUMNS: tuple[str, ...] = ("model", "domain", *VALUE_COLUMNS)
"""Columns of :func:`stereoset_metrics_table` (a DB adds ``run_label``, ``created_at`` ...)."""

_SCHEMA: dict[str, Any] = {
    "model": pl.String,
    "domain": pl.String,
    "n_items": pl.Int64,
    "n_terms": pl.Int64,
    **{c: pl.Float64 for c in ("lms", "ss", "icat", *CI_COLUMNS)},
}


def default_run_label(data_path: str | Path, limit: int | None = None) -> str:
    """``stereoset-<data file stem>[-firstN]-<UTC time>``: a new label per evaluation."""
    stem = Path(data_path).stem
    part = f"-first{limit}" if limit else ""
    return f"stereoset-{stem}{part}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def save_stereoset_results(
    db_path: str | Path,
    run_label: str,
    model_name: str,
    fingerprint: Mapping[str, Any],
    metrics_rows: Sequence[Mapping[str, Any]],
    *,
    seconds: float | None = None,
) -> int:
    """Write one model's metrics rows (from ``intrasentence_metrics``); return rows written.

    Idempotent: re-running a ``(run_label, model)`` replaces its rows in one transaction.
    The data file's SHA-256 and the git commit are taken from ``fingerprint["stereoset"]``.
    """
    from srllm.store import Store

    missing = {c for row in metrics_rows for c in ("domain", "lms", "ss", "icat") if c not in row}
    if missing:
        raise DataError(f"StereoSet metrics rows lack {', '.join(sorted(missing))}")
    info = dict(fingerprint.get("stereoset") or {})
    rows = [
        {
            "domain": row["domain"],
            **{c: row.get(c) for c in VALUE_COLUMNS},
            "data_sha256": info.get("data_sha256"),
            "git_commit": info.get("git_commit"),
            "seconds": seconds,
            "fingerprint": dict(fingerprint),
        }
        for row in metrics_rows
    ]
    return Store(db_path).add_stereoset_results(run_label, model_name, rows)


def stereoset_metrics_table(
    results: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    db_path: str | Path | None = None,
    run_label: str | None = None,
    models: Sequence[str] | None = None,
    latest: bool = False,
) -> pl.DataFrame:
    """StereoSet figures as one tidy polars table for a page or report to render.

    Give either ``results`` (model name -> metrics rows, as ``intrasentence_metrics`` or
    ``StereoSetResult.metrics``) or ``db_path`` (read from ``stereoset_results``, optionally
    only ``run_label`` and/or ``models``; ``latest`` keeps each model's newest evaluation; a
    missing file gives an empty table). Columns: ``model, domain, n_items, n_terms, lms, ss,
    icat`` and the bootstrap bounds ``lms_ci_low ... icat_ci_high``; from a DB also
    ``run_label``, ``data_sha256``, ``git_commit``, ``seconds``, ``created_at`` and
    ``fingerprint`` (JSON text).
    """
    from srllm.store import STEREOSET_SCHEMA, Store

    if (results is None) == (db_path is None):
        raise DataError("give either StereoSet results or a DuckDB path, not both or neither")
    if results is not None:
        records = [
            {"model": model, "domain": row["domain"], **{c: row.get(c) for c in VALUE_COLUMNS}}
            for model, rows in results.items()
            for row in rows
        ]
        return pl.DataFrame(records, schema=_SCHEMA, orient="row")
    path = Path(db_path).expanduser()  # type: ignore[arg-type]
    if not path.exists():
        return pl.DataFrame(schema=STEREOSET_SCHEMA)
    return Store(path).stereoset_results(run_label=run_label, models=models, latest=latest)
