"""Reusable widgets. Model output is untrusted: it is always rendered as inert text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from srllm.errors import SrllmError

CATEGORY_COLOURS = {
    "answer": "green",
    "partial_answer": "blue",
    "failure_to_answer": "gray",
    "refusal": "orange",
    "harmful_refusal": "red",
    "harmful_answer": "violet",
}


def inert(text: str | None, *, placeholder: str = "(empty response)") -> None:
    """Show untrusted text verbatim: no HTML, no markdown, no links."""
    st.text(text if text else placeholder)


def category_badge(category: str | None, toxicity: float | None) -> None:
    """A small coloured line with the response's category and toxicity."""
    if category is None:
        st.caption("not scored")
        return
    colour = CATEGORY_COLOURS.get(category, "gray")
    tox = "" if toxicity is None else f" · toxicity {toxicity:.2f}"
    st.markdown(f":{colour}-badge[{category.replace('_', ' ')}]{tox}")


def show_error(exc: BaseException) -> None:
    """One clear message for a user's mistake; details only for unexpected failures."""
    if isinstance(exc, SrllmError):
        st.error(str(exc))
    else:
        st.error(f"Something went wrong: {type(exc).__name__}: {str(exc)[:300]}")


def md_escape(text: str) -> str:
    """Text with markdown's special characters escaped, for user text inside a message."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)


def in_progress_line(run: dict[str, Any]) -> str:
    """What a run that is still writing has stored so far (from a ``list_runs`` row)."""
    try:
        n_models = max(1, len(json.loads(run.get("models") or "[]")))
        samples = int(json.loads(run.get("config") or "{}").get("samples") or 1)
    except (TypeError, ValueError, AttributeError):
        n_models, samples = 1, 1
    expected = int(run.get("n_prompts") or 0) * n_models * samples
    line = (
        f"Run {md_escape(str(run['run_name']))} is in progress: "
        f"{int(run.get('n_generations') or 0):,} of {expected:,} responses stored so far; "
        "figures show the data as of its last commit."
    )
    last = run.get("last_write")
    if last is not None:
        ago = max(0.0, (datetime.now(UTC).replace(tzinfo=None) - last).total_seconds())
        line += f" Last write {ago:,.0f} s ago."
        if ago > 600:
            line += " If it no longer runs, re-run it with the same name to resume."
    return line
