"""Generations and their scores; the newest category and toxicity kept on each row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import polars as pl

from srllm.errors import StoreError
from srllm.store.connection import (
    StoreBase,
    _frame,
    _now,
)
from srllm.store.rows import GenerationRow, ScoreRow

GENERATION_COLUMNS = (
    "run_id model prompt_id template_id axis group name kind prompt response sample_idx "
    "n_tokens seconds error"
).split()


class GenerationsMixin(StoreBase):
    """Store methods for: generations and their scores."""

    def add_generations(self, rows: Sequence[GenerationRow]) -> int:
        """Insert generations and the scores they carry in one transaction.

        The store computes each row's id; a row already stored (same run, model, prompt and
        sample) is left as it was, and its scores are still written. Returns the number of
        rows newly inserted.
        """
        if not rows:
            return 0
        now = _now()
        ids = [r.generation_id for r in rows]
        gen = pl.DataFrame(
            [
                {
                    "generation_id": gid,
                    "run_id": r.run_id,
                    "model": r.model,
                    "prompt_id": r.prompt_id,
                    "sample_idx": int(r.sample_idx),
                    "response": r.response,
                    "n_tokens": int(r.n_tokens or 0),
                    "seconds": float(r.seconds or 0.0),
                    "error": r.error,
                    "created_at": now,
                }
                for gid, r in zip(ids, rows, strict=True)
            ],
            schema={
                "generation_id": pl.String,
                "run_id": pl.String,
                "model": pl.String,
                "prompt_id": pl.String,
                "sample_idx": pl.Int32,
                "response": pl.String,
                "n_tokens": pl.Int32,
                "seconds": pl.Float64,
                "error": pl.String,
                "created_at": pl.Datetime("us"),
            },
        ).to_arrow()
        scores = [(gid, s) for gid, r in zip(ids, rows, strict=True) for s in r.scores]
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                before = con.execute("SELECT count(*) FROM generations").fetchall()[0][0]
                con.register("new_gen", gen)
                con.execute(
                    f"INSERT INTO generations ({', '.join(gen.column_names)}) "
                    "SELECT * FROM new_gen ON CONFLICT DO NOTHING"
                )
                after = con.execute("SELECT count(*) FROM generations").fetchall()[0][0]
                if scores:
                    self._insert_scores(con, scores, now)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"cannot write generations: {exc}") from exc
        return int(after - before)

    @staticmethod
    def _insert_scores(
        con: duckdb.DuckDBPyConnection, scores: Sequence[tuple[str, ScoreRow]], now: datetime
    ):
        table = pl.DataFrame(
            [
                {
                    "generation_id": gid,
                    "scorer": s.scorer,
                    "version": s.version,
                    "value": None if s.value is None else float(s.value),
                    "label": s.label,
                    "created_at": now,
                }
                for gid, s in scores
            ],
            schema={
                "generation_id": pl.String,
                "scorer": pl.String,
                "version": pl.String,
                "value": pl.Float64,
                "label": pl.String,
                "created_at": pl.Datetime("us"),
            },
        ).to_arrow()
        con.register("new_scores", table)
        con.execute(
            "INSERT INTO scores SELECT * FROM new_scores ON CONFLICT DO UPDATE SET "
            "value = excluded.value, label = excluded.label, created_at = excluded.created_at"
        )
        # The newest category and toxicity also live on the generation (migration 003).
        con.execute(
            "UPDATE generations SET category = s.label, refusal_prob = s.value "
            "FROM (SELECT generation_id, any_value(label) AS label, any_value(value) AS value "
            "      FROM new_scores WHERE scorer = 'category' GROUP BY generation_id) s "
            "WHERE generations.generation_id = s.generation_id"
        )
        con.execute(
            "UPDATE generations SET toxicity = s.value "
            "FROM (SELECT generation_id, any_value(value) AS value "
            "      FROM new_scores WHERE scorer = 'toxicity' GROUP BY generation_id) s "
            "WHERE generations.generation_id = s.generation_id"
        )

    def add_scores(self, scores: Sequence[tuple[str, ScoreRow]]) -> None:
        """Insert or update scores of stored generations: (generation_id, score) pairs."""
        if not scores:
            return
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            self._insert_scores(con, scores, _now())
            con.execute("COMMIT")

    def unscored(self, run_id: str, scorer: str, version: str) -> pl.DataFrame:
        """Generations of a run that lack a given scorer version."""
        with self.connect() as con:
            return _frame(
                con,
                """
                SELECT g.generation_id, p.prompt, g.response
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                WHERE g.run_id = ? AND g.error IS NULL AND NOT EXISTS (
                    SELECT 1 FROM scores s WHERE s.generation_id = g.generation_id
                    AND s.scorer = ? AND s.version = ?)
                """,
                [run_id, scorer, version],
            )

    def generations(self, run_id: str | None = None) -> pl.DataFrame:
        """One row per generation joined with its prompt (the export format)."""
        where, params = ("WHERE g.run_id = ?", [run_id]) if run_id else ("", [])
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT g.run_id, g.model, g.prompt_id, p.template_id, p.axis, p.grp AS "group",
                       p.name, p.kind, p.prompt, g.response, g.sample_idx, g.n_tokens,
                       g.seconds, g.error, g.generation_id, g.created_at
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                {where}
                ORDER BY g.run_id, g.model, g.prompt_id, g.sample_idx
                """,
                params,
            )
