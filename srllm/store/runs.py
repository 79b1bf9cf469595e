"""Runs and their prompt sets: create, find, status, delete (all or nothing)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import duckdb
import polars as pl

from srllm.errors import StoreError
from srllm.store.connection import (
    StoreBase,
    _frame,
    _now,
)

DELETE_RUN_SQL: tuple[str, ...] = (
    "DELETE FROM scores WHERE generation_id IN "
    "(SELECT generation_id FROM generations WHERE run_id = ?)",
    "DELETE FROM labels WHERE generation_id IN "
    "(SELECT generation_id FROM generations WHERE run_id = ?)",
    "DELETE FROM generations WHERE run_id = ?",
    "DELETE FROM prompts WHERE run_id = ?",
    "DELETE FROM runs WHERE run_id = ?",
)


def _prompt_table(run_id: str, prompts: pl.DataFrame):
    """A prompt set as rows of the ``prompts`` table (``group`` is stored as ``grp``)."""
    return prompts.select(
        pl.lit(run_id).alias("run_id"),
        "prompt_id",
        "template_id",
        "axis",
        pl.col("group").alias("grp"),
        "name",
        "kind",
        "prompt",
    ).to_arrow()


class RunsMixin(StoreBase):
    """Store methods for: runs and their prompt sets."""

    def find_run(self, run: str) -> dict[str, Any] | None:
        """A run by id or by name."""
        with self.connect() as con:
            df = _frame(
                con, "SELECT * FROM runs WHERE run_id = ? OR run_name = ? LIMIT 1", [run, run]
            )
        return df.row(0, named=True) if df.height else None

    def require_run(self, run: str) -> dict[str, Any]:
        """Like ``find_run`` but raises a clear error."""
        found = self.find_run(run)
        if found is None:
            raise StoreError(f"no run {run!r} in {self.path}")
        return found

    def create_run(
        self,
        *,
        run_name: str | None,
        prompts: pl.DataFrame,
        prompt_source: str,
        prompt_set_hash: str,
        config: dict,
        models: list[dict],
        git_commit: str | None,
        versions: dict,
        seed: int,
    ) -> str:
        """Insert the run and its prompts in one transaction; return the run id."""
        run_id = uuid.uuid4().hex[:12]
        name = run_name or f"run-{_now():%Y%m%d-%H%M%S}-{run_id[:4]}"
        table = _prompt_table(run_id, prompts)
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO runs (run_id, run_name, created_at, status, prompt_source, "
                    "prompt_set_hash, n_prompts, config, models, git_commit, versions, seed) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        name,
                        _now(),
                        prompt_source,
                        prompt_set_hash,
                        prompts.height,
                        json.dumps(config),
                        json.dumps(models),
                        git_commit,
                        json.dumps(versions),
                        seed,
                    ],
                )
                con.register("new_prompts", table)
                con.execute("INSERT INTO prompts SELECT * FROM new_prompts")
                con.execute("COMMIT")
            except duckdb.ConstraintException as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"a run named {name!r} already exists") from exc
        return run_id

    def add_prompts(self, run_id: str, prompts: pl.DataFrame) -> None:
        """Add prompts to an existing run (live probes); existing ids are kept as they are."""
        table = _prompt_table(run_id, prompts)
        with self.connect(write=True) as con:
            con.register("more_prompts", table)
            con.execute("INSERT INTO prompts SELECT * FROM more_prompts ON CONFLICT DO NOTHING")
            con.execute(
                "UPDATE runs SET n_prompts = (SELECT count(*) FROM prompts WHERE run_id = ?) "
                "WHERE run_id = ?",
                [run_id, run_id],
            )

    def next_sample_idx(self, run_id: str, model: str, prompt_id: str) -> int:
        """The next free sample index for a prompt (live probes repeat prompts)."""
        with self.connect() as con:
            row = con.execute(
                "SELECT coalesce(max(sample_idx) + 1, 0) FROM generations "
                "WHERE run_id = ? AND model = ? AND prompt_id = ?",
                [run_id, model, prompt_id],
            ).fetchall()[0]
        return int(row[0])

    def set_run_status(self, run_id: str, status: str, *, models: list[dict] | None = None) -> None:
        """Mark a run running/finished/failed/interrupted."""
        finished = _now() if status in {"finished", "failed", "interrupted"} else None
        with self.connect(write=True) as con:
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                [status, finished, run_id],
            )
            if models is not None:
                con.execute(
                    "UPDATE runs SET models = ? WHERE run_id = ?", [json.dumps(models), run_id]
                )

    def list_runs(self) -> pl.DataFrame:
        """Runs newest first, with generation counts."""
        with self.connect() as con:
            return _frame(
                con,
                """
                SELECT r.run_id, r.run_name, r.created_at, r.finished_at, r.status,
                       r.prompt_source, r.n_prompts, r.models, r.config,
                       r.prompt_set_hash, r.git_commit,
                       count(g.generation_id) AS n_generations,
                       count(g.error) AS n_errors,
                       max(g.created_at) AS last_write
                FROM runs r LEFT JOIN generations g USING (run_id)
                GROUP BY ALL ORDER BY r.created_at DESC
                """,
            )

    def delete_run(self, run_id: str) -> None:
        """Remove a run and everything that belongs to it: all of it, or (on failure) none."""
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for sql in DELETE_RUN_SQL:
                    con.execute(sql, [run_id])
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def run_prompts(self, run_id: str) -> pl.DataFrame:
        """The prompt set stored with a run (``group`` column restored)."""
        with self.connect() as con:
            return _frame(
                con,
                'SELECT prompt_id, template_id, axis, grp AS "group", name, kind, prompt '
                "FROM prompts WHERE run_id = ? ORDER BY prompt_id",
                [run_id],
            )

    def done_keys(self, run_id: str, model: str) -> set[tuple[str, int]]:
        """(prompt_id, sample_idx) pairs already generated for a model in a run."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT prompt_id, sample_idx FROM generations WHERE run_id = ? AND model = ?",
                [run_id, model],
            ).fetchall()
        return {(r[0], int(r[1])) for r in rows}

    # -- generations and scores ----------------------------------------------------------
    def summary(self) -> dict[str, int]:
        """Counts for the overview page."""
        with self.connect() as con:
            out = {}
            for table in ("runs", "prompts", "generations", "scores", "labels"):
                out[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return out

    # -- StereoSet -----------------------------------------------------------------------
