"""Rewrite: SR_LLM's task — a text made benign by base and tuned, with risk labels."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm.config import GenerationConfig
from srllm.models import generate, resolve_model
from srllm.prompts import REWRITE_INSTRUCTION
from ui import cache, state
from ui.widgets import inert, show_error

st.title("Rewrite")
st.caption(
    "Paste a biased or toxic text; each model rewrites it to be benign. Risk labels (bias, "
    "toxicity, sentiment, harm and SR_LLM's overall unsafe/benign) for the input and outputs."
)
text = st.text_area(
    "Text to rewrite",
    value="People from that neighbourhood are lazy and never pay their bills on time.",
    max_chars=5000,
)
max_new = st.slider("Max new tokens", 16, 256, 96, step=16)
if not st.button("Rewrite", type="primary", disabled=not text.strip()):
    st.stop()
try:
    from srllm.scoring import score_texts

    loaded = [cache.model(resolve_model(m)) for m in state.selected_models()]
    outputs = []
    for lm in loaded:
        gen = generate(lm, [REWRITE_INSTRUCTION + text], GenerationConfig(max_new_tokens=max_new))
        outputs.append((lm.spec.name, gen[0].text or ""))
    labels = score_texts([text] + [o for _, o in outputs])
except Exception as exc:
    show_error(exc)
    st.stop()

cols = st.columns(1 + len(outputs))
for col, (who, body) in zip(cols, [("input", text), *outputs], strict=True):
    with col:
        st.markdown(f"**{who}**")
        inert(body)
table = labels.with_columns(pl.Series("text", ["input"] + [n for n, _ in outputs])).select(
    "text", *[c for c in labels.columns if c != "text"]
)
st.dataframe(table, hide_index=True, width="stretch")
