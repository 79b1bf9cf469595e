"""Audit runs: launch a run in the background, watch it, list, compare and delete runs."""

from __future__ import annotations

import polars as pl
import streamlit as st

from srllm.config import GenerationConfig, RunConfig
from srllm.pipeline import resolve_models
from srllm.prompts import BUILTIN_SETS, describe_set, load_prompt_set
from srllm.store import Store
from ui import cache, jobs, state
from ui.widgets import show_error

st.title("Audit runs")
if state.db_exists():
    try:  # an unusable store is said once, here, not by every part of the page
        Store(state.db_path())
    except Exception as exc:  # noqa: BLE001
        show_error(exc)
        st.stop()

with st.expander("Launch a run", expanded=not jobs.jobs()):
    with st.form("launch"):
        c1, c2 = st.columns(2)
        set_name = c1.selectbox(
            "Prompt set", list(BUILTIN_SETS), format_func=lambda s: f"{s}: {BUILTIN_SETS[s]}"
        )
        path = c2.text_input("…or a prompt file (CSV, JSONL, Parquet, SR_LLM wide CSV)")
        models = st.multiselect(
            "Models", state.selected_models() or ["base"], default=state.selected_models()
        )
        c3, c4, c5, c6 = st.columns(4)
        max_new = c3.number_input("Max new tokens", 8, 1024, 64)
        temperature = c4.number_input("Temperature", 0.0, 2.0, 0.0, step=0.1)
        samples = c5.number_input("Samples per prompt", 1, 50, 1)
        batch = c6.number_input("Batch size", 1, 512, 32)
        c7, c8 = st.columns(2)
        limit = c7.number_input("Only the first N prompts (0 = all)", 0, 100000, 0)
        run_name = c8.text_input("Run name (re-use one to resume it)")
        submitted = st.form_submit_button("Launch", type="primary")
    if submitted:
        try:
            source = path.strip() or set_name
            cfg = RunConfig(
                prompts=source,
                models=tuple(models),
                run_name=run_name.strip() or None,
                samples=int(samples),
                limit=int(limit) or None,
                generation=GenerationConfig(
                    max_new_tokens=int(max_new),
                    temperature=float(temperature),
                    batch_size=int(batch),
                    seed=0,
                ),
            )
            # Check what a user can get wrong here, before a job starts or anything is written.
            resolve_models(cfg.models)
            info = describe_set(load_prompt_set(source, limit=cfg.limit))
            Store(state.db_path())
            jobs.launch(cfg, state.db_path())
            st.success(f"Launched: {info['prompts']} prompts × {len(models)} model(s).")
        except Exception as exc:  # noqa: BLE001
            show_error(exc)


@st.fragment(run_every=2)
def progress_panel() -> None:
    """Live progress of this server's runs (keeps updating across page switches)."""
    for job in jobs.jobs()[:5]:
        p = job.progress
        label = job.config.run_name or job.job_id
        if job.error:
            st.error(f"{label}: {job.error}")
        elif job.finished:
            st.success(f"{label}: finished (run {job.run_id})")
        elif p is None:
            st.info(f"{label}: preparing…")
        else:
            frac = p.done / p.total if p.total else 1.0
            rate = f" · {p.tokens / p.seconds:.0f} tokens/s" if p.seconds else ""
            st.progress(frac, text=f"{label}: {p.model} {p.stage} {p.done}/{p.total}{rate}")
            if st.button("Stop", key=f"stop-{job.job_id}"):
                job.stop.set()


if jobs.jobs():
    st.subheader("Running here")
    progress_panel()

st.subheader("Runs in the store")
if not state.db_exists():
    st.info("No store yet.")
    st.stop()
try:
    runs = cache.runs(state.db_path(), cache.store_stamp(state.db_path()))
except Exception as exc:  # noqa: BLE001
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
        frames = []
        for rid in pick:
            df = cache.scored_frame(state.db_path(), rid, cache.store_stamp(state.db_path()))
            frames.append(df.with_columns(pl.lit(names[rid]).alias("run")))
        both = pl.concat(frames, how="diagonal_relaxed")
        table = (
            both.group_by("run", "model", "category")
            .len()
            .with_columns(
                (pl.col("len") / pl.col("len").sum().over("run", "model")).round(3).alias("share")
            )
            .pivot(on="category", index=["run", "model"], values="share")
            .sort("run", "model")
        )
        st.dataframe(table, hide_index=True, width="stretch")
    with st.popover("Delete a run"):
        victim = st.selectbox("Run to delete", list(names), format_func=names.get)
        if st.button("Delete for good", type="primary"):
            try:
                Store(state.db_path()).delete_run(victim)
                st.cache_data.clear()
                st.success(f"Deleted {names[victim]}.")
                st.rerun()
            except Exception as exc:  # noqa: BLE001
                show_error(exc)
