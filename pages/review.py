"""Review: human labelling in the six categories, optionally blind; agreement figures."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm.stats import agreement_by_group
from srllm.store import Store
from srllm.taxonomy import CATEGORY_HELP, CATEGORY_ORDER
from ui import cache, state
from ui.widgets import inert, md_escape, show_error

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
    labels = store.labels(run_id)
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()
data = data.filter(pl.col("error").is_null())
if data.height == 0:
    st.info("This run has no responses yet.")
    st.stop()

mine = set(labels.filter(pl.col("annotator") == annotator)["generation_id"]) if annotator else set()
groups = ["any"] + sorted(data["group"].unique().to_list())
group = st.selectbox("Group to review", groups)
todo = data.filter(~pl.col("generation_id").is_in(list(mine)))
if group != "any":
    todo = todo.filter(pl.col("group") == group)
st.progress(
    len(mine) / data.height if data.height else 0.0,
    text=f"{len(mine)} of {data.height} responses labelled by {annotator or '—'}",
)

if not annotator:
    st.info("Enter your name to start labelling.")
elif todo.height == 0:
    st.success("Nothing left to label here.")
else:
    item = todo.sample(1, seed=len(mine)).row(0, named=True)
    with st.container(border=True):
        st.caption("Prompt")
        inert(item["prompt"])
        st.caption("Response" + ("" if blind_model else f" · {item['model']}"))
        inert(item["response"])
        if not blind_auto:
            st.caption(f"Automatic label: {item['category'] or 'not scored'}")
    with st.form(f"label-{item['generation_id']}"):
        category = st.radio(
            "Category",
            CATEGORY_ORDER,
            format_func=lambda c: f"{c.replace('_', ' ')} — {CATEGORY_HELP[c]}",
        )
        note = st.text_input("Note (optional)")
        if st.form_submit_button("Save and next", type="primary"):
            try:
                store.add_label(item["generation_id"], annotator, category, note)
                st.rerun()
            except Exception as exc:  # noqa: BLE001
                show_error(exc)

st.subheader("Agreement")
if labels.height == 0:
    st.caption("No human labels yet.")
    st.stop()
auto = data.select(
    "generation_id", pl.lit("automatic").alias("annotator"), "category", "group"
).drop_nulls("category")
people = labels.select("generation_id", "annotator", "category", "group")
tabs = st.tabs(["Between annotators", "Annotators vs classifier"])
with tabs[0]:
    if people["annotator"].n_unique() < 2:
        st.caption("Agreement between people needs at least two annotators.")
    else:
        st.dataframe(agreement_by_group(people), hide_index=True, width="stretch")
with tabs[1]:
    for name in sorted(people["annotator"].unique().to_list()):
        pair = pl.concat([people.filter(pl.col("annotator") == name), auto])
        ids = set(people.filter(pl.col("annotator") == name)["generation_id"])
        pair = pair.filter(pl.col("generation_id").is_in(list(ids)))
        st.markdown(f"**{md_escape(name)}** vs the classifier")
        try:
            st.dataframe(agreement_by_group(pair, method="cohen"), hide_index=True, width="stretch")
        except Exception as exc:  # noqa: BLE001
            show_error(exc)
