"""Session state shared by the pages: the store path and the picked run and models."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from srllm.config import DEFAULT_DB


def db_path() -> str:
    """The DuckDB file the dashboard reads and writes."""
    return st.session_state.get("db_path") or os.environ.get("SRLLM_DB", str(DEFAULT_DB))


def db_exists() -> bool:
    """Whether the store file exists yet."""
    return Path(db_path()).exists()


def selected_run() -> str | None:
    """Run id picked in the sidebar, if any."""
    return st.session_state.get("run_id")


def selected_models() -> list[str]:
    """Model names picked in the sidebar."""
    return list(st.session_state.get("models", ["base"]))
