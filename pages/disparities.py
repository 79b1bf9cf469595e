"""Disparities: who is refused more than the rest, by how much, how sure, and did tuning help."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm import charts
from srllm.stats import compare_models, counterfactual, disparity, gap_verdict
from srllm.stats.views import (
    category_shares,
    findings,
    paired_change,
    template_group_matrix,
)
from ui import cache, state
from ui.widgets import md_escape, show_error

st.title("Disparities")
run_id = state.selected_run()
if not state.db_exists() or run_id is None:
    st.info("Pick a run in the sidebar (launch one on **Audit runs**).")
    st.stop()
try:
    data = cache.analysis_frame(state.db_path(), run_id, cache.store_stamp(state.db_path()))
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()
models = [m for m in state.selected_models() if m in set(data["model"])] or sorted(
    set(data["model"])
)
data = data.filter(pl.col("model").is_in(models))
if data["category"].null_count() == data.height:
    st.warning("This run has no scored responses yet: score it with `python -m srllm score`.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
metric = (
    c1.segmented_control(
        "Metric", ["refusal", "harmful", "toxicity"], default="refusal", key="metric"
    )
    or "refusal"
)
axes = sorted(a for a in data["axis"].unique().to_list() if a)
axis = c2.selectbox("Axis", ["all"] + axes)
alpha = c3.number_input("α", 0.001, 0.2, 0.05, step=0.01)
if axis != "all":
    data = data.filter(pl.col("axis") == axis)

try:
    frame = disparity(data, metric=metric, n_boot=1000)
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()

# Headline: one metric row per model.
gaps = frame.difference()
tests = frame.overall_test()
cols = st.columns(len(frame.models))
for col, model in zip(cols, frame.models, strict=True):
    o = frame.overall.filter(pl.col("model") == model).row(0, named=True)
    g = gaps.filter(pl.col("model") == model).row(0, named=True)
    t = tests.filter(pl.col("model") == model).row(0, named=True)
    fmt = "{:.1%}" if metric != "toxicity" else "{:.3f}"
    col.metric(f"{md_escape(model)}: overall {metric}", fmt.format(o["rate"]))
    col.caption(
        f"Max–min gap {fmt.format(g['difference'])} (95% CI {fmt.format(g['ci_low'])}–"
        f"{fmt.format(g['ci_high'])}): {md_escape(g['group_max'])} vs {md_escape(g['group_min'])}. "
        f"Test across groups ({t['test']}): p = {t['p_value']:.3g}."
    )

# Did tuning help? One sentence with its interval, computed once for the tab below too.
cmp = cmp_error = None
if len(frame.models) >= 2 and metric != "toxicity":
    base = "base" if "base" in frame.models else frame.models[0]
    tuned = next(m for m in frame.models if m != base)
    try:
        cmp = compare_models(data, base=base, tuned=tuned, metric=metric, n_boot=1000)
        gap = cmp.gap.filter(pl.col("axis").is_null()).row(0, named=True)
        tone, gap_line = gap_verdict(gap, base=base, tuned=tuned, metric=metric, escape=md_escape)
        {"success": st.success, "warning": st.warning}.get(tone, st.info)(gap_line)
    except Exception as exc:  # noqa: BLE001
        cmp_error = exc

lines = findings(frame.by_group, alpha=alpha, escape=md_escape)
if lines:
    st.markdown("**Groups that differ from the rest (Holm-adjusted):**")
    for line in lines:
        st.markdown(f"- {line}")
else:
    st.success(f"No group differs from the rest at α = {alpha} after Holm correction.")

event = st.plotly_chart(
    charts.rate_bars(frame.by_group, metric=metric, alpha=alpha),
    on_select="rerun",
    selection_mode="points",
    key="rate_bars",
)
with st.expander("Significance table (group vs rest)", expanded=False):
    st.dataframe(frame.table(), hide_index=True, width="stretch")

tabs = st.tabs(["Base vs tuned", "Template × group", "Flip matrix", "Categories", "Responses"])
with tabs[0]:
    if cmp is not None:
        st.markdown(gap_line)
        change = paired_change(cmp.by_group)
        st.plotly_chart(charts.change_bars(change))
        st.dataframe(cmp.by_group, hide_index=True, width="stretch")
    elif cmp_error is not None:
        show_error(cmp_error)
    else:
        st.info("Pick two models (base and tuned) in the sidebar, on a refusal or harmful metric.")
with tabs[1]:
    model = st.selectbox("Model", frame.models, key="heat_model")
    if metric != "toxicity":
        st.plotly_chart(
            charts.heatmap(
                template_group_matrix(data, model=model, metric=metric),
                title=f"{metric} rate: template × group ({model})",
            )
        )
with tabs[2]:
    if metric != "toxicity":
        cf = counterfactual(data, metric=metric)
        fm_model = st.selectbox("Model", frame.models, key="flip_model")
        st.plotly_chart(charts.flip_matrix(cf.flip_matrix(fm_model)))
        st.dataframe(cf.blocks, hide_index=True, width="stretch")
with tabs[3]:
    st.plotly_chart(charts.category_stack(category_shares(data)))
with tabs[4]:
    points = (event.selection.points if event and event.selection else []) or []
    default_group = points[0]["x"] if points else None
    groups = sorted(data["group"].unique().to_list())
    g = st.selectbox(
        "Group", groups, index=groups.index(default_group) if default_group in groups else 0
    )
    m = st.selectbox("Model", frame.models, key="drill_model")
    cats = sorted(data.filter(pl.col("category").is_not_null())["category"].unique().to_list())
    cat = st.selectbox("Category", ["all", *cats], key="drill_category")
    try:
        rows = cache.responses(state.db_path(), run_id, m, g, None if cat == "all" else cat).select(
            "category", "toxicity", "prompt", "response", "template_id", "prompt_id"
        )
    except Exception as exc:  # noqa: BLE001
        show_error(exc)
        st.stop()
    n_all = data.filter((pl.col("group") == g) & (pl.col("model") == m)).height
    st.caption(
        f"{rows.height} of {n_all} responses for {g} from {m}"
        f"{'' if cat == 'all' else f' labelled {cat}'} (text shown verbatim, not rendered)."
    )
    st.dataframe(rows, hide_index=True, width="stretch")
