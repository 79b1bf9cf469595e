"""Reusable widgets. Model output is untrusted: it is always rendered as inert text."""

from __future__ import annotations

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
