"""Review: label responses by the guide (shown beside each item), where labels help most."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm import review
from srllm.store import Store
from srllm.taxonomy import CATEGORY_HELP, CATEGORY_ORDER
from ui import cache, state
from ui.widgets import agreement_section, inert, md_escape, show_error

st.title("Review")
run_id = state.selected_run()
if not state.db_exists() or run_id is None:
    st.info("Pick a run in the sidebar to review its responses.")
    st.stop()
c1, c2, c3 = st.columns([2, 1, 1])
annotator = c1.text_input("Your name (annotator)", key="annotator").strip()
blind_model = c2.toggle("Hide the model", value=True)
blind_auto = c3.toggle("Hide the automatic label", value=True)
try:
    store = Store(state.db_path())
    data = cache.scored_frame(state.db_path(), run_id, cache.store_stamp(state.db_path()))
    data = data.filter(pl.col("error").is_null())
    labels = store.labels(run_id)
except Exception as exc:
    show_error(exc)
    st.stop()
if data.height == 0:
    st.info("This run has no responses yet.")
    st.stop()
group = st.selectbox(
    "Group to review", ["any (where labels help most)"] + sorted(data["group"].unique().to_list())
)
pool = data if group.startswith("any") else data.filter(pl.col("group") == group)
mine = labels.filter(pl.col("annotator") == annotator).height if annotator else 0
st.progress(
    min(1.0, mine / data.height), text=f"{mine} of {data.height} labelled by {annotator or '—'}"
)
nxt = review.next_items(pool, labels, annotator) if annotator else pool.head(0)
if not annotator:
    st.info("Enter your name to start labelling.")
elif nxt.height == 0:
    st.success("Nothing left to label here.")
else:
    item = nxt.row(0, named=True)
    left, right = st.columns([3, 2])
    with left, st.container(border=True):
        st.caption(f"Prompt · group {md_escape(item['group'])}")
        inert(item["prompt"])
        st.caption("Response" + ("" if blind_model else f" · {item['model']}"))
        inert(item["response"])
        if not blind_auto:
            st.caption(f"Automatic label: {item['category'] or 'not scored'}")
    with right, st.expander("Decision rules (annotation guide)", expanded=True):
        guide = review.guide_sections()
        st.markdown(guide.get("Decision rules (in order)", "docs/annotation_guide.md is missing"))
        with st.popover("Boundary cases"):
            st.markdown(guide.get("Boundary cases", ""))
    with st.form(f"label-{item['generation_id']}"):
        fmt = lambda c: f"{c.replace('_', ' ')} — {CATEGORY_HELP[c]}"  # noqa: E731
        category = st.radio("Category", CATEGORY_ORDER, format_func=fmt)
        toxic = st.radio("Toxic?", list(review.TOXIC_CHOICES), horizontal=True)
        note = st.text_input("Note (optional)")
        if st.form_submit_button("Save and next", type="primary"):
            try:
                toxic = review.TOXIC_CHOICES[toxic]
                store.add_label(item["generation_id"], annotator, category, note, toxic)
                st.rerun()
            except Exception as exc:
                show_error(exc)

st.subheader("Labels each group still needs")
judgement = (
    st.segmented_control("Judgement", list(review.JUDGEMENTS), default="category", key="judge")
    or "category"
)
metric = review.JUDGEMENTS[judgement]
width = st.slider(f"Corrected {metric}-rate interval no wider than", 0.02, 0.3, 0.1, 0.01)
needed = review.labels_needed_by_group(data, labels, metric=metric, width=width)
st.dataframe(needed, hide_index=True)
e1, e2 = st.columns(2)
e1.download_button("Export labels (CSV)", review.export_labels(labels), "labels.csv", "text/csv")
upload = e2.file_uploader("Import labels (CSV as exported; human_toxic 1/0/empty)", type="csv")
if upload is not None and e2.button("Import"):
    try:
        n = review.import_labels(store, upload.getvalue(), set(data["generation_id"]))
        st.success(f"Imported {n} labels.")
    except Exception as exc:
        show_error(exc)
agreement_section(data, labels, judgement)
