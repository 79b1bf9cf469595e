"""The DuckDB store: schema migrations and every SQL statement; returns polars DataFrames.

Concurrency design: DuckDB lets one process write a file (or several read it). srllm keeps
no connection open: every read or write opens a short-lived connection, does its work and
closes it, retrying while another process holds the lock. A CLI audit and the dashboard
therefore share one file; each sees the data as of the other's last commit, and a lock is
never shown to a user as a traceback (after a patient retry it becomes ``StoreBusyError``).
"""

from __future__ import annotations

from srllm.store.connection import (
    MIGRATIONS_DIR,
    SCHEMA_VERSION,
    StoreBase,
    migrations,
)
from srllm.store.generations import GENERATION_COLUMNS, GenerationsMixin
from srllm.store.labels import LabelsMixin
from srllm.store.reads import ReadsMixin
from srllm.store.rows import GenerationRow, ScoreRow, generation_id
from srllm.store.runs import DELETE_RUN_SQL, RunsMixin
from srllm.store.stereoset import STEREOSET_SCHEMA, STEREOSET_VALUE_COLUMNS, StereosetMixin

__all__ = [
    "DELETE_RUN_SQL",
    "GENERATION_COLUMNS",
    "MIGRATIONS_DIR",
    "SCHEMA_VERSION",
    "STEREOSET_SCHEMA",
    "STEREOSET_VALUE_COLUMNS",
    "GenerationRow",
    "ScoreRow",
    "Store",
    "generation_id",
    "migrations",
]


class Store(RunsMixin, GenerationsMixin, ReadsMixin, LabelsMixin, StereosetMixin, StoreBase):
    """One DuckDB file. Cheap to create; opens a connection per operation."""
