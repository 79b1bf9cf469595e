"""Report: a self-contained HTML report and CSV/Parquet exports for stakeholders."""

from __future__ import annotations

import io

import streamlit as st

from srllm.report import build_report
from srllm.store import Store
from ui import cache, state
from ui.widgets import show_error

st.title("Report")
run_id = state.selected_run()
if not state.db_exists() or run_id is None:
    st.info("Pick a run in the sidebar.")
    st.stop()
st.caption(
    "One HTML file with the charts, tables, method and run configuration; it opens offline "
    "and renders every model response as plain text."
)
if st.button("Build the HTML report", type="primary"):
    try:
        with st.spinner("Computing statistics and charts…"):
            html = build_report(Store(state.db_path()), run_id, models=state.selected_models())
        st.session_state["report_html"] = html
    except Exception as exc:
        show_error(exc)
if "report_html" in st.session_state:
    html = st.session_state["report_html"]
    st.download_button(
        "Download report.html", html, file_name="srllm-report.html", mime="text/html"
    )
    st.caption(f"{len(html) / 1e6:.1f} MB")

st.subheader("Exports")
try:
    data = cache.scored_frame(state.db_path(), run_id, cache.store_stamp(state.db_path()))
except Exception as exc:
    show_error(exc)
    st.stop()
c1, c2 = st.columns(2)
c1.download_button(
    "Generations with scores (CSV)", data.write_csv(), file_name="srllm.csv", mime="text/csv"
)
buf = io.BytesIO()
data.write_parquet(buf)
c2.download_button(
    "Generations with scores (Parquet)",
    buf.getvalue(),
    file_name="srllm.parquet",
    mime="application/octet-stream",
)
st.caption(f"{data.height} rows.")
