"""Overview: what is in the store and the latest runs."""

from __future__ import annotations

import streamlit as st

from srllm.store import Store
from ui import cache, state
from ui.widgets import in_progress_line, show_error

st.title("srllm · safety audit")
st.caption(
    "Counterfactual demographic prompts, base vs safety-tuned model, responses classified and "
    "scored, disparities with proper statistics."
)
if not state.db_exists():
    st.info("The store is empty. Start with a **Live probe** or launch an **Audit run**.")
    st.stop()
try:
    counts = Store(state.db_path()).summary()
    runs = cache.runs(state.db_path(), cache.store_stamp(state.db_path()))
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()
for r in runs.filter(runs["status"] == "running").iter_rows(named=True):
    st.info(in_progress_line(r))
cols = st.columns(4)
for col, key in zip(cols, ["runs", "prompts", "generations", "labels"], strict=True):
    col.metric(key.capitalize(), f"{counts[key]:,}")
st.subheader("Latest runs")
st.dataframe(
    runs.select(
        "run_name",
        "status",
        "prompt_source",
        "n_prompts",
        "n_generations",
        "n_errors",
        "created_at",
    ).head(20),
    hide_index=True,
    width="stretch",
)
