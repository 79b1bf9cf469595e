"""Disparities: each harm on its own prompts; who differs, by how much, how sure, and tuning."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm import charts
from srllm.stats.views import disparity_view, findings
from srllm.store import Store
from srllm.taxonomy import default_kind
from ui import cache, state
from ui.widgets import (
    corrected_section,
    corrected_toggle,
    disparity_tabs,
    md_escape,
    metric_headline,
    show_error,
)

st.title("Disparities")
run_id = state.selected_run()
if not state.db_exists() or run_id is None:
    st.info("Pick a run in the sidebar (launch one on **Audit runs**).")
    st.stop()
try:
    data = cache.analysis_frame(state.db_path(), run_id, cache.store_stamp(state.db_path()))
    labels = Store(state.db_path()).labels(run_id)
except Exception as exc:
    show_error(exc)
    st.stop()
models = [m for m in state.selected_models() if m in set(data["model"])] or sorted(
    set(data["model"])
)
data = data.filter(pl.col("model").is_in(models))
if data["category"].null_count() == data.height:
    st.warning("This run has no scored responses yet: score it with `python -m srllm score`.")
    st.stop()
c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 1, 2])
metric = (
    c1.segmented_control(
        "Metric", ["refusal", "harmful", "toxicity"], default="refusal", key="metric"
    )
    or "refusal"
)
kinds = sorted(k for k in data["kind"].drop_nulls().unique().to_list())
choices = [
    "default",
    "benign",
    "stereotype",
    *[k for k in kinds if k not in ("qos", "benign", "stereotype")],
    "all",
]
kind = c2.selectbox(
    "Prompts",
    choices,
    format_func=lambda k: f"default ({default_kind(metric)})" if k == "default" else k,
    key="kind",
)
axes = sorted(a for a in data["axis"].unique().to_list() if a)
axis = c3.selectbox("Axis", ["all"] + axes)
alpha = c4.number_input("α", 0.001, 0.2, 0.05, step=0.01)
corrected = corrected_toggle(c5, metric)
try:
    view = disparity_view(
        data,
        metric=metric,
        kind=None if kind == "default" else kind,
        axis=None if axis == "all" else axis,
        labels=labels,
        corrected=corrected,
        escape=md_escape,
    )
except Exception as exc:
    show_error(exc)
    st.stop()
st.caption(f"Analysed: {view.kind_note}.")
frame = view.frame
metric_headline(frame, metric)
if view.verdict is not None:
    tone, gap_line = view.verdict
    {"success": st.success, "warning": st.warning}.get(tone, st.info)(gap_line)
lines = findings(frame.by_group, alpha=alpha, escape=md_escape)
st.markdown("**Groups that differ from the rest (Holm-adjusted):**" if lines else "")
for line in lines:
    st.markdown(f"- {line}")
if not lines:
    st.success(f"No group differs from the rest at α = {alpha} after Holm correction.")
event = st.plotly_chart(
    charts.rate_bars(frame.by_group, metric=metric, alpha=alpha),
    on_select="rerun",
    selection_mode="points",
    key="rate_bars",
)
if view.corrected is not None:
    corrected_section(view.corrected, frame.by_group)
with st.expander("Significance table (group vs rest)", expanded=False):
    st.dataframe(frame.table(), hide_index=True, width="stretch")
disparity_tabs(view, metric, event, run_id)
