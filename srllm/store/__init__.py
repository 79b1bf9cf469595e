"""The DuckDB store: schema migrations and every SQL statement; returns polars DataFrames.

Concurrency design: DuckDB lets one process write a file (or several read it). srllm keeps
no connection open: every read or write opens a short-lived connection, does its work and
closes it, retrying while another process holds the lock. A CLI audit and the dashboard
therefore share one file; each sees the data as of the other's last commit, and a lock is
never shown to a user as a traceback (after a patient retry it becomes ``StoreBusyError``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from srllm.errors import StoreBusyError, StoreError
from srllm.taxonomy import REFUSALS, category_in_sql, toxic_sql

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
GENERATION_COLUMNS = (
    "run_id model prompt_id template_id axis group name kind prompt response sample_idx "
    "n_tokens seconds error"
).split()


def migrations() -> list[tuple[int, Path]]:
    """Numbered SQL migrations shipped with this version."""
    out = []
    for p in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql")):
        out.append((int(p.name[:3]), p))
    return out


SCHEMA_VERSION = max(n for n, _ in migrations())

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


def generation_id(run_id: str, model: str, prompt_id: str, sample_idx: int) -> str:
    """Deterministic id: the same (run, model, prompt, sample) always maps to one row."""
    key = f"{run_id}\x1f{model}\x1f{prompt_id}\x1f{sample_idx}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """A parameterized query's result as a polars DataFrame."""
    return con.sql(sql, params=params or None).pl()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "being used by another" in text


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


@dataclass
class _Instance:
    """The one DuckDB instance this process has open on a file, and how many use it.

    DuckDB keeps one instance per file and process, but creating and closing it from
    several threads at once races ("Unique file handle conflict", and a second instance on
    the same file can corrupt its write-ahead log, since file locks are per process). So
    srllm creates and closes instances itself, under one lock, and hands out cursors; the
    instance (and with it the file lock) is closed when its last user is done, so another
    process can have the file between our operations.
    """

    root: duckdb.DuckDBPyConnection
    read_only: bool
    users: int = 0


_INSTANCES: dict[str, _Instance] = {}
_INSTANCES_LOCK = threading.Lock()
_WRITE_TURNS: dict[str, threading.Lock] = {}


def _key(path: Path) -> str:
    return str(path.resolve())


def _write_turn(key: str) -> threading.Lock:
    """The lock that makes this process's writes to one file take turns."""
    with _INSTANCES_LOCK:
        return _WRITE_TURNS.setdefault(key, threading.Lock())


def _release(key: str, inst: _Instance, con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    finally:
        with _INSTANCES_LOCK:
            inst.users -= 1
            if inst.users == 0:
                if _INSTANCES.get(key) is inst:
                    del _INSTANCES[key]
                inst.root.close()


DELETE_RUN_SQL: tuple[str, ...] = (
    "DELETE FROM scores WHERE generation_id IN "
    "(SELECT generation_id FROM generations WHERE run_id = ?)",
    "DELETE FROM labels WHERE generation_id IN "
    "(SELECT generation_id FROM generations WHERE run_id = ?)",
    "DELETE FROM generations WHERE run_id = ?",
    "DELETE FROM prompts WHERE run_id = ?",
    "DELETE FROM runs WHERE run_id = ?",
)


class Store:
    """One DuckDB file. Cheap to create; opens a connection per operation."""

    def __init__(self, path: str | Path, *, read_only: bool = False, wait_s: float = 30.0):
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self.wait_s = wait_s
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory: name a DuckDB file inside it")
        if read_only:
            if not self.path.exists():
                raise StoreError(f"no store at {self.path} (run an audit first)")
        else:
            parent = self.path.parent
            if not parent.exists():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create {parent}: {exc.strerror}") from exc
        self._check_and_migrate()

    # -- connections ---------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection, retried while another process holds the file lock.

        Within a process every connection to a file is a cursor on one shared DuckDB
        instance (see ``_Instance``), and writes take turns on a per-file lock, so threads
        (the dashboard's sessions and its background audits) never race each other.
        """
        if write and self.read_only:
            raise StoreError("this store was opened read-only")
        key = _key(self.path)
        turn = _write_turn(key) if write else contextlib.nullcontext()
        with turn:
            inst, con = self._acquire(key)
            try:
                yield con
            finally:
                _release(key, inst, con)

    def _acquire(self, key: str) -> tuple[_Instance, duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.wait_s
        delay = 0.02
        while True:
            with _INSTANCES_LOCK:
                inst = _INSTANCES.get(key)
                if inst is not None and (self.read_only or not inst.read_only):
                    inst.users += 1
                    return inst, inst.root.cursor()
                if inst is None:
                    try:
                        root = duckdb.connect(str(self.path), read_only=self.read_only)
                    except duckdb.IOException as exc:
                        if not _is_lock_error(exc):
                            msg = f"cannot open {self.path}: {_first_line(exc)}"
                            raise StoreError(msg) from exc
                    except duckdb.Error as exc:
                        raise StoreError(
                            f"{self.path} is not a usable DuckDB file: {_first_line(exc)}"
                        ) from exc
                    else:
                        inst = _Instance(root=root, read_only=self.read_only, users=1)
                        _INSTANCES[key] = inst
                        return inst, root.cursor()
                # else: this process has the file open read-only and we must write: wait
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{self.path} is busy: another process is writing to it; try again"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def _exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    # -- schema --------------------------------------------------------------------------
    def applied_migrations(self) -> set[int]:
        """Numbers of the migrations recorded in the file (empty for a new file)."""
        if not self._exists():
            return set()
        with self.connect() as con:
            has = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
            ).fetchall()[0]
            if not has or not has[0]:
                return set()
            return {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}

    def schema_version(self) -> int:
        """The schema version recorded in the file (0 for a new file)."""
        return max(self.applied_migrations(), default=0)

    def _check_and_migrate(self) -> None:
        done = self.applied_migrations()
        current = max(done, default=0)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this srllm knows "
                f"({SCHEMA_VERSION}): upgrade srllm to read it"
            )
        # Every shipped migration missing from the file, not only those above its newest:
        # migrations merged out of order (002 after 003) still reach stores made in between.
        if all(number in done for number, _ in migrations()):
            return
        if self.read_only:
            raise StoreError(f"{self.path} needs a schema upgrade; open it once for writing")
        with self.connect(write=True) as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
            for number, path in migrations():
                if number in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute(path.read_text())
                    con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, _now()])
                    con.execute("COMMIT")
                except duckdb.Error as exc:
                    con.execute("ROLLBACK")
                    raise StoreError(f"migration {path.name} failed: {exc}") from exc

    # -- runs ----------------------------------------------------------------------------
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
        table = prompts.select(
            pl.lit(run_id).alias("run_id"),
            "prompt_id",
            "template_id",
            "axis",
            pl.col("group").alias("grp"),
            "name",
            "kind",
            "prompt",
        ).to_arrow()
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
        table = prompts.select(
            pl.lit(run_id).alias("run_id"),
            "prompt_id",
            "template_id",
            "axis",
            pl.col("group").alias("grp"),
            "name",
            "kind",
            "prompt",
        ).to_arrow()
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
    def add_generations(self, rows: Sequence[dict[str, Any]], scores: Sequence[dict] = ()) -> int:
        """Insert generations (and their scores) in one transaction; duplicates are ignored.

        Each row needs run_id, model, prompt_id, sample_idx, response, n_tokens, seconds,
        error. Returns the number of rows newly inserted.
        """
        if not rows:
            return 0
        now = _now()
        gen = pl.DataFrame(
            [
                {
                    "generation_id": generation_id(
                        r["run_id"], r["model"], r["prompt_id"], int(r["sample_idx"])
                    ),
                    "run_id": r["run_id"],
                    "model": r["model"],
                    "prompt_id": r["prompt_id"],
                    "sample_idx": int(r["sample_idx"]),
                    "response": r.get("response"),
                    "n_tokens": int(r.get("n_tokens") or 0),
                    "seconds": float(r.get("seconds") or 0.0),
                    "error": r.get("error"),
                    "created_at": now,
                }
                for r in rows
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
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                before = con.execute("SELECT count(*) FROM generations").fetchall()[0][0]
                con.register("new_gen", gen)
                con.execute(
                    f"INSERT INTO generations ({', '.join(gen.column_names)}) "  # noqa: S608
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
    def _insert_scores(con: duckdb.DuckDBPyConnection, scores: Sequence[dict], now: datetime):
        table = pl.DataFrame(
            [
                {
                    "generation_id": s["generation_id"],
                    "scorer": s["scorer"],
                    "version": s["version"],
                    "value": None if s.get("value") is None else float(s["value"]),
                    "label": s.get("label"),
                    "created_at": now,
                }
                for s in scores
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

    def add_scores(self, scores: Sequence[dict]) -> None:
        """Insert or update scores (generation_id, scorer, version, value, label)."""
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
                """,  # noqa: S608 - the WHERE clause is a constant; values are parameters
                params,
            )

    def scored_frame(self, run_id: str) -> pl.DataFrame:
        """Generations with their latest scores as columns (what the statistics read)."""
        with self.connect() as con:
            return _frame(
                con,
                """
                WITH s AS (
                    SELECT generation_id, scorer, value, label,
                           row_number() OVER (PARTITION BY generation_id, scorer
                                              ORDER BY created_at DESC) AS rn
                    FROM scores
                    WHERE generation_id IN (SELECT generation_id FROM generations
                                            WHERE run_id = ?)
                )
                SELECT g.run_id, g.model, g.prompt_id, p.template_id, p.axis,
                       p.grp AS "group", p.name, p.kind, g.sample_idx, p.prompt, g.response,
                       g.error, g.generation_id,
                       max(CASE WHEN s.scorer = 'category' THEN s.label END) AS category,
                       max(CASE WHEN s.scorer = 'category' THEN s.value END) AS refusal_prob,
                       max(CASE WHEN s.scorer = 'toxicity' THEN s.value END) AS toxicity,
                       max(CASE WHEN s.scorer = 'sentiment' THEN s.value END) AS sentiment,
                       max(CASE WHEN s.scorer = 'risk' THEN s.label END) AS risk
                FROM generations g
                JOIN prompts p USING (run_id, prompt_id)
                LEFT JOIN s ON s.generation_id = g.generation_id AND s.rn = 1
                WHERE g.run_id = ?
                GROUP BY ALL
                ORDER BY g.model, g.prompt_id, g.sample_idx
                """,
                [run_id, run_id],
            )

    def analysis_frame(self, run_id: str, models: Sequence[str] | None = None) -> pl.DataFrame:
        """The narrow frame the statistics read: one row per generation, no text.

        Columns: model, prompt_id, template_id, axis, group, name, sample_idx, category,
        refusal_prob, toxicity, error. Reads the latest scores kept on each generation; the
        prompt columns are joined on an integer key after the query (about 1e6 rows in
        0.1 s: ``bench/store_queries.py``).
        """
        where, params = "WHERE g.run_id = ?", [run_id]
        if models:
            where += " AND g.model IN (SELECT unnest(?))"
            params.append(list(models))
        with self.connect() as con:
            gens = _frame(
                con,
                f"""
                SELECT g.model, p.rowid AS _p, g.sample_idx, g.category, g.refusal_prob,
                       g.toxicity, g.error
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                {where}
                """,  # noqa: S608 - constant clause; values are parameters
                params,
            )
            prompts = _frame(
                con,
                'SELECT rowid AS _p, prompt_id, template_id, axis, grp AS "group", name '
                "FROM prompts WHERE run_id = ?",
                [run_id],
            )
        cols = ["model", "prompt_id", "template_id", "axis", "group", "name", "sample_idx"]
        rest = ["category", "refusal_prob", "toxicity", "error"]
        return gens.join(prompts, on="_p", how="left").select(*cols, *rest)

    def group_counts(self, run_id: str) -> pl.DataFrame:
        """Per model, axis and group: n, refusals, harmful answers, mean toxicity, errors."""
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT g.model, p.axis, p.grp AS "group", count(*) AS n,
                       count(*) FILTER (WHERE {category_in_sql("g.category", REFUSALS)})
                           AS refusals,
                       count(*) FILTER (WHERE g.category = 'harmful_answer') AS harmful,
                       avg(g.toxicity) AS toxicity,
                       count(*) FILTER (WHERE g.error IS NOT NULL) AS errors
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                WHERE g.run_id = ?
                GROUP BY ALL ORDER BY ALL
                """,
                [run_id],
            )

    def responses(
        self,
        run_id: str,
        *,
        model: str | None = None,
        group: str | None = None,
        template_id: str | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> pl.DataFrame:
        """The responses behind one bar or cell (drill-down), newest scores included."""
        where, params = ["g.run_id = ?"], [run_id]
        for col, value in (
            ("g.model", model),
            ("p.grp", group),
            ("p.template_id", template_id),
            ("g.category", category),
        ):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        params.append(int(limit))
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT g.model, p.grp AS "group", p.template_id, g.prompt_id, g.sample_idx,
                       g.category, g.refusal_prob, g.toxicity, p.prompt, g.response, g.error,
                       g.generation_id
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                WHERE {" AND ".join(where)}
                ORDER BY p.template_id, g.prompt_id, g.sample_idx
                LIMIT ?
                """,  # noqa: S608 - column names are constants; values are parameters
                params,
            )

    # -- human labels --------------------------------------------------------------------
    def add_label(self, generation_id: str, annotator: str, category: str, note: str = "") -> None:
        """Record (or replace) one annotator's label for a generation."""
        with self.connect(write=True) as con:
            con.execute(
                "INSERT INTO labels VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "category = excluded.category, note = excluded.note, "
                "created_at = excluded.created_at",
                [generation_id, annotator.strip(), category, note, _now()],
            )

    def labels(self, run_id: str | None = None) -> pl.DataFrame:
        """Human labels, optionally for one run."""
        where, params = ("WHERE g.run_id = ?", [run_id]) if run_id else ("", [])
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT l.*, g.run_id, g.model, p.grp AS "group"
                FROM labels l JOIN generations g USING (generation_id)
                JOIN prompts p USING (run_id, prompt_id) {where}
                """,  # noqa: S608 - constant clause
                params,
            )

    def summary(self) -> dict[str, int]:
        """Counts for the overview page."""
        with self.connect() as con:
            out = {}
            for table in ("runs", "prompts", "generations", "scores", "labels"):
                out[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return out

    # -- StereoSet -----------------------------------------------------------------------
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
            f"INSERT INTO stereoset_results ({', '.join(cols)}) "  # noqa: S608 - constant names
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
        """  # noqa: S608 - constant clauses; values are parameters
        with self.connect() as con:
            df = _frame(con, sql, params)
        return df.cast(STEREOSET_SCHEMA)

    # -- paper tables --------------------------------------------------------------------
    def outcome_counts(self, models: Sequence[str]) -> pl.DataFrame:
        """Per run, model and group: generations with a risk label / unsafe, scored / toxic.

        Counts the latest score of each scorer per generation, error-free generations only.
        Columns: ``run_id, run_name, prompt_source, created_at, status, model, group,
        n_risk, n_unsafe, n_tox, n_toxic`` (toxic: :func:`srllm.taxonomy.toxic_sql`).
        """
        if not models:
            return pl.DataFrame()
        marks = ", ".join("?" for _ in models)
        sql = f"""
            WITH g AS (
                SELECT generation_id, run_id, model, prompt_id FROM generations
                WHERE model IN ({marks}) AND error IS NULL
            ),
            s AS (
                SELECT generation_id, scorer, value, label,
                       row_number() OVER (PARTITION BY generation_id, scorer
                                          ORDER BY created_at DESC) AS rn
                FROM scores
                WHERE scorer IN ('risk', 'toxicity')
                  AND generation_id IN (SELECT generation_id FROM g)
            )
            SELECT g.run_id, r.run_name, r.prompt_source, r.created_at, r.status, g.model,
                   p.grp AS "group",
                   count(rk.label) AS n_risk,
                   count(*) FILTER (WHERE rk.label = 'unsafe') AS n_unsafe,
                   count(tx.value) AS n_tox,
                   count(*) FILTER (WHERE {toxic_sql("tx.value")}) AS n_toxic
            FROM g
            JOIN runs r USING (run_id)
            JOIN prompts p USING (run_id, prompt_id)
            LEFT JOIN s rk ON rk.generation_id = g.generation_id AND rk.scorer = 'risk'
                          AND rk.rn = 1
            LEFT JOIN s tx ON tx.generation_id = g.generation_id AND tx.scorer = 'toxicity'
                          AND tx.rn = 1
            GROUP BY ALL
            ORDER BY r.created_at, g.run_id, g.model, "group"
        """  # noqa: S608 - the IN list is placeholders; values are parameters
        with self.connect() as con:
            return _frame(con, sql, list(models))

    def model_names(self) -> list[str]:
        """Every model name with generations or StereoSet results, sorted."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT model FROM generations UNION SELECT model FROM stereoset_results "
                "ORDER BY model"
            ).fetchall()
        return [r[0] for r in rows]
