"""Connections: one DuckDB instance per file per process, write turns, migrations.

See ``docs/NOTES.md`` (store concurrency) for why the registry exists.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from srllm.errors import StoreBusyError, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def migrations() -> list[tuple[int, Path]]:
    """Numbered SQL migrations shipped with this version."""
    out = []
    for p in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql")):
        out.append((int(p.name[:3]), p))
    return out


SCHEMA_VERSION = max(n for n, _ in migrations())


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


class StoreBase:
    """The store's file, its connections and its schema (see :class:`srllm.store.Store`)."""

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
