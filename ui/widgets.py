"""Reusable widgets. Model output is untrusted: it is always rendered as inert text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from srllm.errors import SrllmError
from srllm.taxonomy import CATEGORY_BADGES


def inert(text: str | None, *, placeholder: str = "(empty response)") -> None:
    """Show untrusted text verbatim: no HTML, no markdown, no links."""
    st.text(text if text else placeholder)


def category_badge(category: str | None, toxicity: float | None) -> None:
    """A small coloured line with the response's category and toxicity."""
    if category is None:
        st.caption("not scored")
        return
    colour = CATEGORY_BADGES.get(category, "gray")
    tox = "" if toxicity is None else f" · toxicity {toxicity:.2f}"
    st.markdown(f":{colour}-badge[{category.replace('_', ' ')}]{tox}")


def show_error(exc: BaseException) -> None:
    """One clear message for a user's mistake; details only for unexpected failures."""
    if isinstance(exc, SrllmError):
        st.error(str(exc))
    else:
        st.error(f"Something went wrong: {type(exc).__name__}: {str(exc)[:300]}")


def md_escape(text: str) -> str:
    """Text with markdown's special characters escaped, for user text inside a message."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)


def in_progress_line(run: dict[str, Any]) -> str:
    """What a run that is still writing has stored so far (from a ``list_runs`` row)."""
    try:
        n_models = max(1, len(json.loads(run.get("models") or "[]")))
        samples = int(json.loads(run.get("config") or "{}").get("samples") or 1)
    except (TypeError, ValueError, AttributeError):
        n_models, samples = 1, 1
    expected = int(run.get("n_prompts") or 0) * n_models * samples
    line = (
        f"Run {md_escape(str(run['run_name']))} is in progress: "
        f"{int(run.get('n_generations') or 0):,} of {expected:,} responses stored so far; "
        "figures show the data as of its last commit."
    )
    last = run.get("last_write")
    if last is not None:
        ago = max(0.0, (datetime.now(UTC).replace(tzinfo=None) - last).total_seconds())
        line += f" Last write {ago:,.0f} s ago."
        if ago > 600:
            line += " If it no longer runs, re-run it with the same name to resume."
    return line


def metric_headline(frame: Any, metric: str) -> None:
    """One metric per model: overall rate, max-min gap with its CI, the test across groups."""
    import polars as pl

    gaps, tests = frame.difference(), frame.overall_test()
    fmt = "{:.1%}" if metric != "toxicity" else "{:.3f}"
    for col, model in zip(st.columns(len(frame.models)), frame.models, strict=True):
        o = frame.overall.filter(pl.col("model") == model).row(0, named=True)
        g = gaps.filter(pl.col("model") == model).row(0, named=True)
        t = tests.filter(pl.col("model") == model).row(0, named=True)
        col.metric(f"{md_escape(model)}: overall {metric}", fmt.format(o["rate"]))
        col.caption(
            f"Max–min gap {fmt.format(g['difference'])} (95% CI {fmt.format(g['ci_low'])}–"
            f"{fmt.format(g['ci_high'])}): {md_escape(g['group_max'])} vs "
            f"{md_escape(g['group_min'])}. Test across groups ({t['test']}): "
            f"p = {t['p_value']:.3g}."
        )


def corrected_toggle(col: Any, metric: str) -> bool:
    """The "corrected for classifier error" toggle (toxicity: from Review's toxic? choice)."""
    on = col.toggle("Corrected for classifier error", key="corrected")
    if on and metric == "toxicity":
        st.caption(
            "Toxicity is corrected as the share scored toxic, from the toxic? choice of this "
            "run's Review labels, else from the built-in scorer's errors on labelled "
            "responses of the embedded models (shipped)."
        )
    return on


def corrected_section(cor: Any, by_group: Any) -> None:
    """Corrected rates per group, the error source, and the gaps classifier error explains."""
    import polars as pl

    from srllm import charts

    shown = (
        cor.join(by_group.select("model", "group", "n"), on=["model", "group"])
        .select(
            "model",
            "group",
            "n",
            pl.col("rate_corrected").alias("rate"),
            pl.col("ci_low_corrected").alias("ci_low"),
            pl.col("ci_high_corrected").alias("ci_high"),
        )
        .drop_nulls("rate")
    )
    sources = ", ".join(sorted(set(cor["error_source"].to_list())))
    st.caption(f"Corrected for classifier error (Rogan-Gladen); error rates from: {sources}.")
    if sources == "none":
        from srllm.stats.correction import MIN_CLASS, MIN_LABELS

        st.info(
            "Not enough human labels to correct with: label responses on **Review** (per "
            f"model, at least {MIN_LABELS} with {MIN_CLASS} of each outcome; for toxicity, "
            "the toxic? choice)."
        )
    if shown.height:
        st.plotly_chart(
            charts.rate_bars(
                shown.with_columns(pl.lit(1.0).alias("p_holm")), metric="corrected rate"
            ),
            key="corrected_bars",
        )
    for r in cor.filter(pl.col("explained_by_error")).iter_rows(named=True):
        st.warning(
            f"{md_escape(r['model'])} / {md_escape(r['group'])}: the raw gap vs the rest "
            "excludes 0 but the corrected one does not: classifier error could explain "
            "this gap."
        )
    st.dataframe(cor, hide_index=True, width="stretch")


def impact_section(impact: Any) -> None:
    """Impact ratios with the four-fifths line."""
    from srllm import charts

    low = impact.filter(impact["below_four_fifths"])
    if low.height:
        st.warning(
            f"{low.height} group(s) are answered at under 80% of the best group's rate "
            "(the four-fifths rule)."
        )
    st.plotly_chart(charts.impact_bars(impact), key="impact_bars")
    st.dataframe(impact, hide_index=True, width="stretch")


def disparity_tabs(view: Any, metric: str, event: Any, run_id: str) -> None:
    """The Disparities page's tabs: base vs tuned, impact ratio, matrices, drill-down."""
    from srllm import charts
    from srllm.stats import counterfactual
    from srllm.stats.views import category_shares, paired_change
    from srllm.stats.views import template_group_matrix as tg_matrix
    from ui import cache, state

    frame = view.frame
    names = [
        "Base vs tuned",
        "Impact ratio",
        "Template × group",
        "Flip matrix",
        "Categories",
        "Responses",
        "Run history",
    ]
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs["Base vs tuned"]:
        if view.comparison is not None:
            if view.verdict is not None:
                st.markdown(view.verdict[1])
            st.plotly_chart(charts.change_bars(paired_change(view.comparison.by_group)))
            st.dataframe(view.comparison.by_group, hide_index=True, width="stretch")
        elif view.comparison_error is not None:
            show_error(view.comparison_error)
        else:
            st.info(
                "Pick two models (base and tuned) in the sidebar, on a refusal or harmful metric."
            )
    with tabs["Impact ratio"]:
        if view.impact is not None:
            impact_section(view.impact)
        else:
            st.info("The impact ratio compares answer rates on benign prompts (refusal metric).")
    if metric != "toxicity":
        with tabs["Template × group"]:
            model = st.selectbox("Model", frame.models, key="heat_model")
            st.plotly_chart(
                charts.heatmap(
                    tg_matrix(view.data, model=model, metric=metric),
                    title=f"{metric} rate: template × group ({model})",
                )
            )
        with tabs["Flip matrix"]:
            cf = counterfactual(view.data, metric=metric)
            fm_model = st.selectbox("Model", frame.models, key="flip_model")
            st.plotly_chart(charts.flip_matrix(cf.flip_matrix(fm_model)))
            st.dataframe(cf.blocks, hide_index=True, width="stretch")
    with tabs["Categories"]:
        st.plotly_chart(charts.category_stack(category_shares(view.data)))
    with tabs["Responses"]:
        points = (event.selection.points if event and event.selection else []) or []
        groups = sorted(view.data["group"].unique().to_list())
        pick = points[0]["x"] if points and points[0]["x"] in groups else groups[0]
        g = st.selectbox("Group", groups, index=groups.index(pick))
        m = st.selectbox("Model", frame.models, key="drill_model")
        cat = st.selectbox(
            "Category",
            ["all", *sorted(view.data["category"].drop_nulls().unique().to_list())],
            key="drill_category",
        )
        try:
            db = state.db_path()
            rows = cache.responses(
                db, run_id, m, g, None if cat == "all" else cat, cache.store_stamp(db)
            )
        except Exception as exc:
            show_error(exc)
            st.stop()
        st.caption(f"{rows.height} responses for {g} from {m} (text shown verbatim, not rendered).")
        st.dataframe(
            rows.select("category", "toxicity", "prompt", "response", "template_id", "prompt_id"),
            hide_index=True,
            width="stretch",
        )
    with tabs["Run history"]:
        run_history_tab(run_id, metric)


def save_probe(store: Any, rows: list, loaded: list, done: dict, badges: dict) -> dict:
    """Store and score every finished probe cell; show its badge; return the categories."""
    from srllm.pipeline import record_live

    cats = {}
    for (r, c), gen in done.items():
        try:
            _, scores = record_live(store, rows[r], loaded[c].spec.name, gen)
        except Exception as exc:
            show_error(exc)
            continue
        by = {s.scorer: s for s in scores}
        cat, tox = by.get("category"), by.get("toxicity")
        with badges[r, c].container():
            category_badge(cat and cat.label, tox and tox.value)
            st.caption(f"{gen.n_tokens} tokens in {gen.seconds:.1f}s")
        if cat is not None:
            cats[loaded[c].spec.name, rows[r]["name"] or rows[r]["group"]] = cat.label
    return cats


def worked_example(status: dict) -> None:
    """The example's charts and three sentences, or its build progress."""
    from srllm import charts
    from srllm.demo import demo_db
    from srllm.stats.views import disparity_view
    from ui import cache

    st.subheader("Worked example: the embedded base model vs its safety-tuned version")
    if status["state"] != "ready":
        st.progress(
            status["done"] / max(status["total"], 1),
            text=f"Building the example in the background: {status['done']} of "
            f"{status['total']} responses (python -m srllm demo).",
        )
        if status["state"] == "missing":
            st.caption("Not started: run `python -m srllm demo` (scripts/start.sh does).")
        return
    db = str(demo_db())
    data = cache.analysis_frame(db, status["run_id"], cache.store_stamp(db))
    refusal = disparity_view(data, metric="refusal", n_boot=200)
    harmful = disparity_view(data, metric="harmful", n_boot=200)
    r, h = refusal.frame.overall, harmful.frame.overall
    rate = {
        (m, k): v
        for k, f in (("r", r), ("h", h))
        for m, v in zip(f["model"], f["rate"], strict=True)
    }
    gap = refusal.frame.difference()
    worst = gap.sort("difference", descending=True).row(0, named=True)
    st.markdown(
        f"On {data.height:,} responses of this project's own prompts, the safety-tuned model "
        f"refuses {rate.get(('tuned', 'r'), 0):.0%} of harmless requests (base "
        f"{rate.get(('base', 'r'), 0):.0%}), the quality-of-service harm. "
        f"It answers stereotype-inviting requests harmfully {rate.get(('tuned', 'h'), 0):.0%} "
        f"of the time (base {rate.get(('base', 'h'), 0):.0%}), the representational harm. "
        f"The widest gap between groups is {worst['difference']:.0%} ({md_escape(worst['model'])}: "
        f"{md_escape(worst['group_max'])} vs {md_escape(worst['group_min'])}); "
        "**Disparities** shows whether it is more than chance."
    )
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.rate_bars(refusal.frame.by_group, metric="refusal (benign prompts)"),
        key="demo_refusal",
    )
    c2.plotly_chart(
        charts.rate_bars(harmful.frame.by_group, metric="harmful (stereotype prompts)"),
        key="demo_harmful",
    )
    if st.button("Open the example in Disparities", type="primary"):
        st.session_state["db_path"] = db
        st.session_state["run_id"] = status["run_id"]
        st.switch_page("pages/disparities.py")


def run_history_tab(run_id: str, metric: str) -> None:
    """The same prompt set across runs: pick runs, see the gap's trend with intervals."""
    from srllm import charts
    from srllm.stats.history import run_history
    from ui import cache, state

    db = state.db_path()
    runs = cache.runs(db, cache.store_stamp(db))
    this = runs.filter(runs["run_id"] == run_id)
    if this.height == 0:
        return
    same = runs.filter(runs["prompt_set_hash"] == this["prompt_set_hash"][0]).sort("created_at")
    labels = {
        r["run_id"]: f"{r['run_name']} ({r['created_at']:%Y-%m-%d %H:%M})"
        for r in same.iter_rows(named=True)
    }
    picked = st.multiselect(
        "Runs of this prompt set",
        list(labels),
        default=list(labels),
        format_func=labels.get,
        key="history_runs",
    )
    if len(picked) < 2:
        st.info("Runs with the same prompt set appear here; pick two or more to see a trend.")
        return
    frames = [(labels[r], cache.analysis_frame(db, r, cache.store_stamp(db))) for r in picked]
    shown = metric if metric != "toxicity" else "refusal"
    if shown != metric:
        st.caption("Run history follows refusals of benign prompts (not toxicity).")
    by_group, gaps = run_history(frames, metric=shown)
    st.plotly_chart(charts.history_group_lines(by_group, metric=shown), key="history_groups")
    st.plotly_chart(charts.history_lines(gaps, metric=shown), key="history_gap")
    st.dataframe(by_group, hide_index=True, width="stretch")


def launch_form() -> None:
    """The Audit runs page's launch form: checks what a user can get wrong, then launches."""
    from srllm.config import GenerationConfig, RunConfig
    from srllm.pipeline import check_judge, resolve_models
    from srllm.prompts import BUILTIN_SETS, describe_set, load_prompt_set
    from srllm.store import Store
    from ui import jobs, state

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
            judge = st.text_input(
                "Judge (OpenAI-compatible)",
                placeholder="openai:http://HOST:8000/v1#MODEL",
                help="optional: also classify every response with this model (stored as the "
                "'judge' scorer; Review compares it with people)",
            )
            submitted = st.form_submit_button("Launch", type="primary")
        if submitted:
            try:
                source = path.strip() or set_name
                judge_word = check_judge(judge) if judge.strip() else None
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
                    judge=judge_word,
                )
                # Check what a user can get wrong here, before a job starts or anything is written.
                resolve_models(cfg.models)
                info = describe_set(load_prompt_set(source, limit=cfg.limit))
                Store(state.db_path())
                jobs.launch(cfg, state.db_path())
                st.success(f"Launched: {info['prompts']} prompts × {len(models)} model(s).")
            except Exception as exc:
                show_error(exc)


@st.fragment(run_every=2)
def progress_panel() -> None:
    """Live progress of this server's runs (keeps updating across page switches)."""
    from ui import jobs

    for job in jobs.jobs()[:5]:
        p = job.progress
        label = job.config.run_name or job.job_id
        stopped = job.stop.is_set()
        if job.error and stopped:
            st.warning(f"{label}: {job.error}")
        elif job.error:
            st.error(f"{label}: {job.error}")
        elif job.finished:
            st.success(f"{label}: finished (run {job.run_id})")
        elif stopped:
            st.info(f"{label}: stopping… rows stored so far are kept")
        elif p is None:
            st.info(f"{label}: preparing…")
        else:
            frac = p.done / p.total if p.total else 1.0
            rate = f" · {p.tokens / p.seconds:.0f} tokens/s" if p.seconds else ""
            st.progress(frac, text=f"{label}: {p.model} {p.stage} {p.done}/{p.total}{rate}")
            if st.button("Stop", key=f"stop-{job.job_id}"):
                job.stop.set()


def stereoset_launcher(base: str, tuned: str, db: str) -> None:
    """How to get StereoSet figures for a pair: the shell command, or score them here."""
    from srllm.paper import stereoset_command
    from srllm.stereoset import default_data_path, evaluate_models
    from ui import cache, jobs

    st.info("No StereoSet results are stored for this pair. From a shell:")
    st.code(stereoset_command(base, tuned, db), language="bash")
    pair = f"{base} vs {tuned} @ {db}"
    running = [t for t in jobs.tasks("stereoset", pair) if not t.finished]
    if not running:
        with st.form("stereoset_run"):
            data = st.text_input("StereoSet intrasentence CSV", str(default_data_path()))
            limit = st.number_input("Only the first N items (0 = all)", 0, 100_000, 0)
            go = st.form_submit_button("Score both models here", type="primary")
        if go:

            def work(report, data=data, limit=int(limit) or None):
                def step(model: str, done: int, total: int) -> None:
                    report(done / max(total, 1), f"{model}: {done}/{total} sentences")

                evaluate_models(
                    [base, tuned],
                    db=db,
                    data_path=data,
                    limit=limit,
                    loader=cache.model,
                    progress=step,
                )

            jobs.launch_task("stereoset", pair, work)
            st.rerun()

    @st.fragment(run_every=2)
    def stereoset_progress() -> None:
        """Progress of StereoSet scoring in the background (survives page switches)."""
        for task in jobs.tasks("stereoset", pair)[:1]:
            if task.error and task.stop.is_set():
                st.warning(f"StereoSet scoring {task.error}")
            elif task.error:
                st.error(f"StereoSet scoring failed: {task.error}")
            elif task.finished:
                cache.clear_reads()
                st.rerun()
            elif task.stop.is_set():
                st.info("StereoSet scoring: stopping…")
            else:
                st.progress(task.fraction, text=f"Scoring in the background: {task.text}")
                if st.button("Stop", key=f"stop-{task.task_id}"):
                    task.stop.set()

    stereoset_progress()


def loadable_models(names: list[str]) -> list:
    """Load the picked models; warn about and skip the ones this machine cannot load."""
    from srllm.models import resolve_model
    from ui import cache

    specs = []
    for m in names:
        try:
            specs.append(resolve_model(m))
        except Exception as exc:  # a model of an old run may not load here
            st.warning(f"Skipping {m}: {exc}")
    if not specs:
        st.error("None of the picked models can be loaded here.")
        st.stop()
    try:
        return [cache.model(s) for s in specs]
    except Exception as exc:
        show_error(exc)
        st.stop()


def agreement_section(data: Any, labels: Any, judgement: str) -> None:
    """Review's agreement tables, one tab each, for the category or the toxic? judgement."""
    from srllm import review

    toxic = judgement == "toxic?"
    st.subheader(f"Agreement{' on toxic?' if toxic else ''} (Cohen's kappa, per group)")
    if labels.height == 0:
        st.caption("No human labels yet.")
        return
    tables = review.agreement_tables(data, labels, judgement)
    if toxic:
        st.caption(
            "The toxicity scorer's toxic call (score ≥ 0.5) against people's toxic? choice; "
            "tp: both toxic, fn: people toxic and the scorer not, fp: the scorer toxic and "
            "people not, tn: neither. kappa is empty where it is undefined (one class only)."
        )
    if not tables:
        st.caption(
            "Agreement needs two annotators who judged the same responses toxic or not, or "
            "scored responses that people judged."
            if toxic
            else "Agreement needs two annotators, or scored responses that people labelled."
        )
    for name, tab in zip(tables, st.tabs(list(tables) or ["-"]), strict=False):
        with tab:
            st.dataframe(tables[name], hide_index=True, width="stretch")
