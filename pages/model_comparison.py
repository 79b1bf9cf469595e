"""Model comparison: the SR_LLM paper's tables for a base/tuned pair, with published rows."""

from __future__ import annotations

import streamlit as st

from srllm import charts, published
from srllm.paper import FOOTNOTES, TITLES, display_tables
from ui import cache, state
from ui.widgets import show_error, stereoset_launcher

st.title("Model comparison")
st.caption(
    "The SR_LLM paper's evaluation for any base/tuned pair: unsafe and toxic generation rates "
    "per prompt set (Table 4), toxic % by group (Table 5) and StereoSet LMS, SS and ICAT "
    "(Tables 6-7). Rows labelled *published* are the paper's own figures, for reference."
)
if not state.db_exists():
    st.info("No store yet: run an audit on **Audit runs** first.")
    st.stop()
db = state.db_path()
try:
    stored = cache.model_names(db, cache.store_stamp(db))
except Exception as exc:
    show_error(exc)
    st.stop()
options = list(dict.fromkeys([*state.selected_models(), *stored]))
c1, c2 = st.columns(2)
base = c1.selectbox("Base model", options, index=options.index("base") if "base" in options else 0)
others = [m for m in options if m != base]
if not others:
    st.info("Only one model is available: pick two models (base and tuned) in the sidebar.")
    st.stop()
tuned = c2.selectbox("Tuned model", others, index=others.index("tuned") if "tuned" in others else 0)
try:
    tables = cache.paper_tables(db, base, tuned, cache.store_stamp(db))
except Exception as exc:
    show_error(exc)
    st.stop()
shown = display_tables(tables)
for note in tables.notes:
    st.text(f"Note: {note}")

left, right = st.columns(2)
with left:
    st.subheader(TITLES["table4"])
    st.dataframe(shown["table4"], hide_index=True, width="stretch")
    st.caption(FOOTNOTES["table4"])
with right:
    st.subheader(TITLES["stereoset"])
    if tables.has_stereoset:
        overall = tables.stereoset.filter(tables.stereoset["domain"] == "overall")
        cols = st.columns(max(1, overall.height))[: overall.height]
        for col, row in zip(cols, overall.iter_rows(named=True), strict=True):
            col.text(f"{row['model']} · overall · {row['n_items']} items")
            col.metric("LMS", f"{row['lms']:.2f}")
            col.metric("SS", f"{row['ss']:.2f}")
            col.metric("ICAT", f"{row['icat']:.2f}")
    else:
        stereoset_launcher(base, tuned, db)
    st.dataframe(shown["stereoset"], hide_index=True, width="stretch")
    st.caption(FOOTNOTES["stereoset"])

st.subheader(TITLES["table5"])
if tables.table5.height:
    st.plotly_chart(charts.toxic_by_group(tables.table5, published.table5()))
st.dataframe(shown["table5"], hide_index=True, width="stretch")
st.caption(FOOTNOTES["table5"])
if tables.runs.height:
    with st.expander("Runs used"):
        st.dataframe(tables.runs, hide_index=True, width="stretch")
