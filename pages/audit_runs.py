"""Audit runs: launch a run in the background, watch it, list, compare and delete runs."""

from __future__ import annotations

import streamlit as st

from srllm.stats.views import run_category_table
from srllm.store import Store
from ui import cache, jobs, state
from ui.widgets import launch_form, progress_panel, show_error

st.title("Audit runs")
if state.db_exists():
    try:  # an unusable store is said once, here, not by every part of the page
        Store(state.db_path())
    except Exception as exc:
        show_error(exc)
        st.stop()

launch_form()


if jobs.jobs():
    st.subheader("Running here")
    progress_panel()

st.subheader("Runs in the store")
if not state.db_exists():
    st.info("No store yet.")
    st.stop()
try:
    runs = cache.runs(state.db_path(), cache.store_stamp(state.db_path()))
except Exception as exc:
    show_error(exc)
    st.stop()
st.dataframe(
    runs.select(
        "run_name",
        "status",
        "prompt_source",
        "n_prompts",
        "n_generations",
        "n_errors",
        "created_at",
        "finished_at",
        "run_id",
    ),
    hide_index=True,
    width="stretch",
)
if runs.height:
    names = dict(zip(runs["run_id"], runs["run_name"], strict=True))
    pick = st.multiselect(
        "Compare runs (category shares per model)",
        list(names),
        format_func=names.get,
        max_selections=4,
    )
    if pick:
        frames = {
            names[r]: cache.scored_frame(state.db_path(), r, cache.store_stamp(state.db_path()))
            for r in pick
        }
        st.dataframe(run_category_table(frames), hide_index=True, width="stretch")
    with st.popover("Delete a run"):
        victim = st.selectbox("Run to delete", list(names), format_func=names.get)
        if st.button("Delete for good", type="primary"):
            try:
                Store(state.db_path()).delete_run(victim)
                cache.clear_reads()
                st.success(f"Deleted {names[victim]}.")
                st.rerun()
            except Exception as exc:
                show_error(exc)
