"""All Streamlit caching lives here."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

from srllm.config import ModelSpec
from srllm.models import LoadedModel, load_model


@st.cache_resource(show_spinner="Loading model (once per server)…", max_entries=4)
def model(spec: ModelSpec) -> LoadedModel:
    """A loaded model shared by every session of this server."""
    return load_model(spec)


@st.cache_data(show_spinner=False)
def groups_table() -> pl.DataFrame:
    """Demographic groups as a table (axis, group, adj, plural)."""
    from srllm.prompts import load_groups

    return pl.DataFrame([g.__dict__ for g in load_groups()])


@st.cache_data(show_spinner=False)
def names_table() -> pl.DataFrame:
    """First names by origin (origin, name, gender)."""
    from srllm.prompts import load_names

    return pl.DataFrame([n.__dict__ for n in load_names()])


@st.cache_data(show_spinner=False)
def templates(set_name: str) -> list[dict]:
    """Templates of a built-in set."""
    from srllm.prompts import PROMPTS_DIR, read_templates

    return read_templates(PROMPTS_DIR / f"{set_name}.jsonl")


def store_stamp(db: str) -> float:
    """Changes whenever the store file (or its write-ahead log) is written.

    Passed to the readers below as ``stamp``: Streamlit hashes it (a leading underscore would
    exclude it), so a read is fresh as soon as anything wrote the store, and cached otherwise.
    """
    stamp = 0.0
    for path in (Path(db), Path(f"{db}.wal")):
        try:
            st_ = path.stat()
            stamp += st_.st_mtime_ns / 1e9 + st_.st_size
        except OSError:
            pass
    return stamp


@st.cache_data(ttl=5, show_spinner=False)
def runs(db: str, stamp: float) -> pl.DataFrame:
    """Runs in the store (refreshed every few seconds)."""
    from srllm.store import Store

    return Store(db).list_runs()


@st.cache_data(ttl=10, show_spinner=False)
def scored_frame(db: str, run_id: str, stamp: float) -> pl.DataFrame:
    """A run's generations with scores."""
    from srllm.store import Store

    return Store(db).scored_frame(run_id)


@st.cache_data(ttl=10, show_spinner=False)
def analysis_frame(db: str, run_id: str, stamp: float) -> pl.DataFrame:
    """A run's generations without text: what the statistics read (fast on big runs)."""
    from srllm.store import Store

    return Store(db).analysis_frame(run_id)


@st.cache_data(ttl=10, show_spinner=False)
def responses(
    db: str, run_id: str, model: str, group: str, category: str | None, stamp: float
) -> pl.DataFrame:
    """The responses behind one bar (drill-down), at most 500."""
    from srllm.store import Store

    return Store(db).responses(run_id, model=model, group=group, category=category, limit=500)


@st.cache_resource
def job_registry() -> dict:
    """Background audit jobs of this server, shared by every session (survive page switches)."""
    return {}


@st.cache_data(ttl=10, show_spinner=False)
def model_names(db: str, stamp: float) -> list[str]:
    """Model names with generations or StereoSet results in the store."""
    from srllm.store import Store

    return Store(db).model_names()


@st.cache_data(ttl=10, show_spinner="Computing the paper tables…")
def paper_tables(db: str, base: str, tuned: str, stamp: float):
    """The SR_LLM paper's tables for a base/tuned pair (``srllm.paper.paper_tables``)."""
    from srllm.paper import paper_tables as compute

    return compute(db, base=base, tuned=tuned)


def clear_reads() -> None:
    """Drop every cached read (after the store changed under this session: a delete)."""
    st.cache_data.clear()
