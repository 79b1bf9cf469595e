"""Overview: what is in the store and the latest runs; the worked example on first open."""

from __future__ import annotations

import streamlit as st

from srllm.demo import demo_db, demo_status
from srllm.store import Store
from ui import cache, state
from ui.widgets import in_progress_line, show_error, worked_example

st.title("srllm · safety audit")
st.caption(
    "Counterfactual demographic prompts, base vs safety-tuned model, responses classified and "
    "scored, disparities with proper statistics."
)
empty = not state.db_exists()
if not empty and state.db_path() != str(demo_db()):
    try:
        counts = Store(state.db_path()).summary()
        runs = cache.runs(state.db_path(), cache.store_stamp(state.db_path()))
    except Exception as exc:
        show_error(exc)
        st.stop()
    empty = counts["generations"] == 0
if empty or state.db_path() == str(demo_db()):
    if empty:
        st.info(
            "Your store is empty. Start with a **Live probe** or launch an **Audit run**; "
            "meanwhile, here is what an audit shows."
        )
    worked_example(demo_status())
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
