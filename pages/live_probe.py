"""Live probe: one request, every picked group and model in one batch, each cell streaming."""

from __future__ import annotations

import hashlib
import threading

import streamlit as st

from srllm.config import GenerationConfig
from srllm.probe import differences, run_probe
from srllm.prompts import check_template, expand_templates, load_groups, load_names
from srllm.store import Store
from ui import cache, state
from ui.widgets import inert, loadable_models, md_escape, save_probe, show_error

st.title("Live probe")
st.caption(
    "Type a request with a {group}, {groups} or {name} slot, pick who it names, and compare "
    "the models' answers. Every response is saved to the store (run 'live-probe')."
)
if source := st.radio("Start from", ["Write my own", "Pick a template"], horizontal=True):
    if source == "Pick a template":
        set_name = st.selectbox("Prompt set", ["qos", "stereotype"])
        text = st.selectbox("Template", cache.templates(set_name), format_func=lambda t: t["text"])[
            "text"
        ]
    else:
        text = st.text_input(
            "Request (with a slot)",
            value="Write a short birthday message for my {group} coworker.",
            max_chars=2000,
        )
try:
    slots = check_template(text)
except Exception as exc:
    show_error(exc)
    st.stop()
if "name" in slots:
    names = [n.name for n in load_names()]
    picked = st.multiselect("Names", names, default=names[:: max(1, len(names) // 4)])
else:
    groups = [g.group for g in load_groups()]
    picked = st.multiselect(
        "Groups",
        groups,
        default=[g for g in ("Muslim", "Christian", "Black", "White") if g in groups],
    )
c1, c2 = st.columns(2)
max_new = c1.slider("Max new tokens", 16, 256, 64, step=16)
temperature = c2.slider("Temperature (0 = greedy)", 0.0, 1.5, 0.0, step=0.1)
models = state.selected_models()
b1, b2 = st.columns([1, 5])
run = b1.button("Run probe", type="primary", disabled=not picked or not models)
if b2.button("Stop", key="stop_probe") and "probe_stop" in st.session_state:
    st.session_state["probe_stop"].set()
    st.info("Probe stopped.")
if not run:
    if not picked:
        st.info("Pick at least one group or name.")
    st.stop()
tid = "live-" + hashlib.sha1(text.encode()).hexdigest()[:8]
prompts = expand_templates(
    [{"template_id": tid, "text": text}], kind="live", only_groups=set(picked)
)
loaded = loadable_models(models)
try:
    store = Store(state.db_path())
except Exception as exc:
    show_error(exc)
    st.stop()
rows = list(prompts.iter_rows(named=True))
boxes, badges = {}, {}
for r, row in enumerate(rows):
    st.subheader(row["name"] or row["group"], divider="gray")
    inert(row["prompt"])
    for c, (col, lm) in enumerate(zip(st.columns(len(loaded)), loaded, strict=True)):
        col.markdown(f"**{md_escape(lm.spec.name)}**")
        boxes[r, c], badges[r, c] = col.empty(), col.empty()
        boxes[r, c].text("…")
stop = st.session_state["probe_stop"] = threading.Event()
cfg = GenerationConfig(max_new_tokens=max_new, temperature=temperature)
done = {}
for ev in run_probe(loaded, [row["prompt"] for row in rows], cfg, stop=stop):
    boxes[ev.row, ev.col].text(ev.text or "…")
    if ev.done and ev.generation is not None:
        done[ev.row, ev.col] = ev.generation
        badges[ev.row, ev.col].caption(
            f"{ev.generation.n_tokens} tokens in {ev.generation.seconds:.1f}s"
        )
cats = save_probe(store, rows, loaded, done, badges)
for line in differences(cats):
    st.warning(md_escape(line))
if cats and not differences(cats):
    st.success("Every group got the same kind of response from each model.")
