"""srllm dashboard: router and shared sidebar only. Start with ``streamlit run app.py``."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st

from srllm.models import default_adapter
from srllm.pipeline import LIVE_RUN
from ui import cache, state

st.set_page_config(page_title="srllm audit", page_icon=":material/shield:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/live_probe.py", title="Live probe", icon=":material/search:"),
    st.Page("pages/audit_runs.py", title="Audit runs", icon=":material/play_circle:"),
    st.Page("pages/disparities.py", title="Disparities", icon=":material/bar_chart:"),
    st.Page("pages/model_comparison.py", title="Model comparison", icon=":material/compare:"),
    st.Page("pages/review.py", title="Review", icon=":material/rate_review:"),
    st.Page("pages/rewrite.py", title="Rewrite", icon=":material/auto_fix_high:"),
    st.Page("pages/report.py", title="Report", icon=":material/description:"),
]


def sidebar() -> None:
    """Store path, run picker and model picker shared by every page."""
    with st.sidebar:
        st.markdown("### srllm")
        st.text_input("Store (DuckDB file)", value=state.db_path(), key="db_path")
        run_models: list[str] = []
        if state.db_exists():
            try:
                runs = cache.runs(state.db_path(), cache.store_stamp(state.db_path()))
            except Exception as exc:
                st.warning(f"Store unreadable: {exc}")
                runs = None
            if runs is not None and runs.height:
                labels = {
                    r["run_id"]: f"{r['run_name']} · {r['status']} · {r['n_generations']} gens"
                    for r in runs.iter_rows(named=True)
                }
                ids = list(labels)
                current = st.session_state.get("run_id")
                audits = [r for r, n in zip(ids, runs["run_name"], strict=True) if n != LIVE_RUN]
                default = current if current in ids else (audits or ids)[0]
                st.selectbox(
                    "Run",
                    ids,
                    index=ids.index(default),
                    format_func=labels.get,
                    key="run_id",
                )
                picked = runs.filter(runs["run_id"] == st.session_state["run_id"])
                if picked.height:
                    run_models = [m["name"] for m in json.loads(picked["models"][0] or "[]")]
                if any(r["status"] == "running" for r in runs.iter_rows(named=True)):
                    st.info("A run is in progress: figures show data as of its last batch.")
        else:
            st.caption("No store yet: run a live probe or an audit to create it.")
        options = ["base"] + (["tuned"] if default_adapter() else [])
        if run_models:
            options = list(dict.fromkeys(run_models + options))
        st.multiselect("Models", options, default=run_models or options, key="models")
        if not default_adapter():
            st.caption("Only the base model is available: no safety adapter in data/adapters/.")


sidebar()
st.navigation(PAGES).run()
