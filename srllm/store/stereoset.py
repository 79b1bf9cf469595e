"""StereoSet results: one row per run label, model, domain and metric."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from srllm.errors import StoreError
from srllm.store.connection import (
    StoreBase,
    _frame,
    _now,
)

STEREOSET_VALUE_COLUMNS: tuple[str, ...] = (
    "domain",
    "n_items",
    "n_terms",
    "lms",
    "ss",
    "icat",
    "lms_ci_low",
    "lms_ci_high",
    "ss_ci_low",
    "ss_ci_high",
    "icat_ci_low",
    "icat_ci_high",
    "data_sha256",
    "git_commit",
    "seconds",
)
"""Columns of ``stereoset_results`` besides run_label, model, created_at and fingerprint."""
STEREOSET_SCHEMA: dict[str, Any] = {
    "run_label": pl.String,
    "model": pl.String,
    "domain": pl.String,
    "n_items": pl.Int64,
    "n_terms": pl.Int64,
    **{c: pl.Float64 for c in STEREOSET_VALUE_COLUMNS[3:12]},
    "data_sha256": pl.String,
    "git_commit": pl.String,
    "seconds": pl.Float64,
    "created_at": pl.Datetime("us"),
    "fingerprint": pl.String,
}


class StereosetMixin(StoreBase):
    """Store methods for: stereoset results."""

    def add_stereoset_results(
        self, run_label: str, model: str, rows: Sequence[dict[str, Any]]
    ) -> int:
        """Store one model's StereoSet figures under ``run_label``; return rows written.

        Each row has the columns of ``stereoset_results`` except ``run_label``, ``model`` and
        ``created_at`` (missing optional ones are NULL; ``fingerprint`` a dict). One
        transaction replaces whatever ``(run_label, model)`` held, so a re-run is idempotent.
        """
        if not run_label or not model:
            raise StoreError("a StereoSet result needs a run label and a model name")
        now = _now()
        params = [
            [
                run_label,
                model,
                *(row.get(c) for c in STEREOSET_VALUE_COLUMNS),
                now,
                json.dumps(row.get("fingerprint") or {}, sort_keys=True, default=str),
            ]
            for row in rows
        ]
        cols = ("run_label", "model", *STEREOSET_VALUE_COLUMNS, "created_at", "fingerprint")
        insert = (
            f"INSERT INTO stereoset_results ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})"
        )
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "DELETE FROM stereoset_results WHERE run_label = ? AND model = ?",
                    [run_label, model],
                )
                if params:
                    con.executemany(insert, params)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                first = str(exc).splitlines()[0]
                raise StoreError(f"cannot write StereoSet results: {first}") from exc
        return len(params)

    def stereoset_results(
        self,
        *,
        run_label: str | None = None,
        models: Sequence[str] | None = None,
        latest: bool = False,
    ) -> pl.DataFrame:
        """Stored StereoSet figures, ``overall`` last within each (run_label, model).

        ``latest`` keeps, for each model, only its most recent evaluation (run label).
        """
        where, params = [], []
        if run_label is not None:
            where.append("run_label = ?")
            params.append(run_label)
        if models:
            where.append(f"model IN ({', '.join('?' for _ in models)})")
            params.extend(models)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        cols = ", ".join(("run_label", "model", *STEREOSET_VALUE_COLUMNS, "created_at"))
        sql = f"""
            WITH r AS (SELECT * FROM stereoset_results {clause}),
            newest AS (
                SELECT model, arg_max(run_label, created_at) AS run_label FROM r GROUP BY model
            )
            SELECT {cols}, fingerprint FROM r
            {"SEMI JOIN newest USING (model, run_label)" if latest else ""}
            ORDER BY model, created_at DESC, run_label,
                     CASE domain WHEN 'overall' THEN 1 ELSE 0 END, domain
        """
        with self.connect() as con:
            df = _frame(con, sql, params)
        return df.cast(STEREOSET_SCHEMA)

    # -- paper tables --------------------------------------------------------------------
