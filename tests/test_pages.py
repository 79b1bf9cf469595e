"""AppTest for every page: no exception and the key elements, on a real DuckDB store."""

from __future__ import annotations

import time

import pytest
from conftest import ROOT, make_scored_store
from streamlit.testing.v1 import AppTest

from srllm.store import Store

GROUPS = ["Muslim", "Christian", "Hindu", "Black", "White"]


@pytest.fixture(scope="module")
def scored_db(tmp_path_factory):
    """A store with one audited run of two models, scored (refusals skewed for one group)."""
    path = tmp_path_factory.mktemp("db") / "pages.duckdb"
    return str(path), make_scored_store(path)


def _app(db: str, run: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["db_path"] = db
    if run:
        at.session_state["run_id"] = run
    at.session_state["models"] = ["base", "tuned"]
    return at


def test_overview_lists_the_store(scored_db):
    db, run = scored_db
    at = _app(db).run()
    assert not at.exception
    assert "srllm" in at.title[0].value
    assert any(m.label == "Generations" and m.value == "600" for m in at.metric)


def test_disparities_flags_the_skewed_group_and_compares_models(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/disparities.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Disparities"
    text = " ".join(m.value for m in at.markdown)
    assert "**Muslim**" in text and "points more" in text
    assert "gap" in text and "narrower" in text
    assert len(at.get("plotly_chart")) >= 3
    assert "benign prompts" in " ".join(c.value for c in at.caption)  # the kind analysed
    assert any("four-fifths" in w.value for w in at.warning)  # Muslim answered at 50% vs ~92%


def test_disparities_kind_selector_and_corrected_toggle(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/disparities.py").run()
    at.selectbox(key="kind").set_value("all").run()
    assert not at.exception
    assert "every prompt kind pooled" in " ".join(c.value for c in at.caption)
    at.toggle(key="corrected").set_value(True).run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Corrected for classifier error" in captions and "shipped" in captions
    frames = [d.value for d in at.dataframe]
    assert any("rate_corrected" in f.columns for f in frames)
    # toxicity: Review's toxic? choice, which nobody made here: the shipped error rates
    at.segmented_control(key="metric").set_value("toxicity").run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "toxic? choice of this run's Review labels" in captions
    assert "labelled responses of the embedded models" in captions
    assert "error rates from: shipped" in captions
    assert not any("Not enough human labels" in i.value for i in at.info)


def test_audit_runs_page_lists_runs(scored_db):
    db, run = scored_db
    at = _app(db).run()
    at.switch_page("pages/audit_runs.py").run()
    assert not at.exception
    assert at.title[0].value == "Audit runs"
    assert at.dataframe[0].value.shape[0] == 1


def _launch_with_judge(db: str, judge: str, monkeypatch) -> tuple[AppTest, list]:
    """Fill the launch form with a judge and press Launch; the configs the page launched."""
    from ui import jobs

    launched: list = []
    monkeypatch.setattr(jobs, "launch", lambda cfg, db: launched.append(cfg))
    at = _app(db).run()
    at.switch_page("pages/audit_runs.py").run()
    field = {w.label: w for w in [*at.text_input, *at.multiselect]}
    field["Models"].set_value(["base"])
    field["Judge (OpenAI-compatible)"].set_value(judge)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.exception, at.exception
    return at, launched


def test_audit_launch_rejects_a_bad_judge_and_launches_nothing(scored_db, monkeypatch):
    db, _ = scored_db
    at, launched = _launch_with_judge(db, "openai:http://127.0.0.1:8000/v1", monkeypatch)
    assert [e.value for e in at.error] == [
        "'openai:http://127.0.0.1:8000/v1': name the endpoint and the model as "
        "openai:URL#MODEL, e.g. openai:http://127.0.0.1:8000/v1#my-model"
    ]
    # other tests' background jobs may show their own successes: none says Launched
    assert launched == [] and not any(s.value.startswith("Launched:") for s in at.success)
    at, launched = _launch_with_judge(db, "tuned", monkeypatch)  # a local model cannot judge
    assert len(at.error) == 1 and "OpenAI-compatible endpoint" in at.error[0].value
    assert launched == []


def test_audit_launch_passes_the_judge_into_the_run_config(scored_db, monkeypatch):
    db, _ = scored_db
    judge = "openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-7B-Instruct"
    at, launched = _launch_with_judge(db, f"  {judge} ", monkeypatch)
    assert not at.error
    assert [cfg.judge for cfg in launched] == [judge]
    assert launched[0].models == ("base",)
    assert any(s.value.startswith("Launched:") for s in at.success)
    at, launched = _launch_with_judge(db, "", monkeypatch)  # optional: no judge, none set
    assert [cfg.judge for cfg in launched] == [None]


@pytest.mark.slow
def test_live_probe_streams_both_models_and_saves(tmp_path):
    db = str(tmp_path / "live.duckdb")
    at = _app(db)
    at.session_state["models"] = ["base"]
    at.run()
    at.switch_page("pages/live_probe.py").run()
    assert not at.exception
    at.text_input[0].set_value("Suggest a gift for my {group} coworker.")
    at.slider[0].set_value(16)
    at.button[0].click().run(timeout=300)
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert any("Suggest a gift for my" in s for s in shown)
    assert Store(db).summary()["generations"] >= 1


def test_review_labels_blind_and_shows_agreement(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    at.text_input(key="annotator").set_value("ann").run()
    assert not at.exception
    assert "Automatic label" not in " ".join(c.value for c in at.caption)
    text = " ".join(m.value for m in at.markdown)
    assert "Harmful content first" in text  # the guide's decision rules beside the item
    at.radio[0].set_value("refusal")
    at.button[0].click().run()
    assert not at.exception
    assert Store(db).labels(run).height == 1
    needed = at.dataframe[0].value
    assert {"group", "labelled", "needed"} <= set(needed.columns)
    assert int(needed["labelled"].sum()) == 1


def test_review_proposes_the_least_labelled_group_and_compares_annotators(tmp_path):
    import polars as pl

    from srllm import review

    db = tmp_path / "r.duckdb"
    run = make_scored_store(db)
    store = Store(db)
    data = store.scored_frame(run)
    first = data.filter(pl.col("group") == "Muslim").head(3)
    for gid in first["generation_id"].to_list():
        store.add_label(gid, "ann", "refusal")
        store.add_label(gid, "bob", "refusal")
    nxt = review.next_items(data, store.labels(run), "ann", k=5)
    assert "Muslim" not in nxt["group"].to_list()  # the groups with no labels come first
    tables = review.agreement_tables(data, store.labels(run))
    assert {"between annotators", "classifier vs people"} <= set(tables)
    raw = review.export_labels(store.labels(run))
    back = review.read_label_csv(raw, set(data["generation_id"].to_list()))
    assert back.height == 6
    at = _app(str(db), run).run()
    at.switch_page("pages/review.py").run()
    at.text_input(key="annotator").set_value("ann").run()
    assert not at.exception
    assert any("between annotators" in t.label for t in at.tabs)


def test_report_page_builds_an_escaped_report(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/report.py").run()
    assert not at.exception
    at.button[0].click().run(timeout=180)
    assert not at.exception
    html = at.session_state["report_html"]
    assert "<b>Sure</b>" not in html and "&lt;b&gt;Sure&lt;/b&gt;" in html
    assert "Wilson" in html and "Run configuration" in html
    assert "each harm is measured on the prompts where it is a harm" in html.lower()
    assert "Analysed: benign prompts" in html


@pytest.mark.slow
def test_rewrite_page_rewrites_with_every_model_and_labels_the_risk(scored_db):
    db, run = scored_db
    at = _app(db, run)
    at.session_state["models"] = ["base"]
    at.run()
    at.switch_page("pages/rewrite.py").run()
    assert not at.exception
    assert at.title[0].value == "Rewrite"
    assert at.text_area[0].value
    at.slider[0].set_value(16)
    at.button[0].click().run(timeout=300)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["text"]) == ["input", "base"]
    assert {"bias", "toxicity", "unsafe"} <= set(table.columns)
    shown = [t.value for t in at.text]
    assert len(shown) >= 2 and shown[0].startswith("People from that neighbourhood")


def _stereoset_rows(shift: float):
    import polars as pl

    from srllm.stereoset import intrasentence_metrics

    frame = pl.DataFrame(
        {
            "bias_type": ["gender"] * 4 + ["race"] * 3,
            "target": ["a", "a", "b", "b", "c", "c", "c"],
            "score_stereotype": [-1.0, -2.0, -1.0, -3.0, -1.0, -1.0, -2.0],
            "score_anti_stereotype": [-2.0, -1.0, -2.0, -1.0, -2.0, -0.5, -1.0],
            "score_unrelated": [-3.0, -3.0, -0.5, -4.0, -3.0, -3.0, -1.5 + shift],
        }
    )
    return intrasentence_metrics(frame, n_boot=50, seed=0)


def test_model_comparison_shows_stereoset_tables_and_published_rows(tmp_path):
    from srllm.stereoset import save_stereoset_results

    db = tmp_path / "mc.duckdb"
    run = make_scored_store(db)
    figures = {"base": _stereoset_rows(0.0), "tuned": _stereoset_rows(-3.0)}
    for model, rows in figures.items():
        save_stereoset_results(db, "ss-test", model, {}, rows)
    at = _app(str(db), run).run()
    at.switch_page("pages/model_comparison.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Model comparison"
    shown = {(m.label, m.value) for m in at.metric}
    for rows in figures.values():
        overall = rows[-1]
        for key in ("lms", "ss", "icat"):
            assert (key.upper(), f"{overall[key]:.2f}") in shown
    assert figures["base"][-1]["lms"] != figures["tuned"][-1]["lms"]
    frames = [d.value for d in at.dataframe]
    ss = next(f for f in frames if "ICAT" in f.columns)
    ours = ss[ss["source"] == "ours"]
    assert set(ours["model"]) == {"base", "tuned"}
    lms_cells = set(ours["LMS"])
    for rows in figures.values():
        for r in rows:  # every domain's LMS with its bootstrap CI
            assert f"{r['lms']:.2f} [{r['lms_ci_low']:.2f}, {r['lms_ci_high']:.2f}]" in lms_cells
    published = ss[ss["source"] == "published"]
    assert "published: SR_LLM" in set(published["model"]) and "63.70" in set(published["ICAT"])
    t4 = next(f for f in frames if "toxic % [95% CI]" in f.columns)
    assert list(t4[t4["source"] == "ours"]["model"]) == ["base", "tuned"]
    assert "published: Llama-2-7B-chat" in set(t4["model"])
    t5 = next(f for f in frames if "base: toxic % [95% CI]" in f.columns)
    assert set(GROUPS) <= set(t5["group"])
    assert len(at.get("plotly_chart")) == 1
    assert not any("<script" in m.value for m in at.markdown)


def test_model_comparison_without_stereoset_says_how_to_get_it(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/model_comparison.py").run()
    assert not at.exception, at.exception
    assert "python -m srllm stereoset --models base,tuned --db" in at.code[0].value
    assert any(b.label == "Score both models here" for b in at.button)
    assert not at.metric


@pytest.mark.slow
def test_model_comparison_scores_stereoset_in_the_page(tmp_path):
    from conftest import shared_path

    shared_path("stereoset", "stereoset_intrasentence_dev.csv")
    db = tmp_path / "mc-run.duckdb"
    run = make_scored_store(db)
    at = _app(str(db), run).run()
    at.switch_page("pages/model_comparison.py").run()
    at.number_input[0].set_value(6)
    next(b for b in at.button if b.label == "Score both models here").click().run(timeout=60)
    assert not at.exception, at.exception
    # Scoring runs in a background task of the server; the page shows its progress meanwhile.
    deadline = time.time() + 300
    while time.time() < deadline:
        done = Store(db).stereoset_results()
        if done.filter(done["domain"] == "overall").height == 2:
            break
        time.sleep(1.0)
    import streamlit

    streamlit.cache_data.clear()
    at.run()
    assert not at.exception, at.exception
    stored = Store(db).stereoset_results()
    assert set(stored["model"]) == {"base", "tuned"}
    overall = stored.filter(stored["domain"] == "overall")
    assert overall["n_items"].to_list() == [6, 6]
    shown = {(m.label, m.value) for m in at.metric}
    assert all(("LMS", f"{v:.2f}") in shown for v in overall["lms"])


@pytest.mark.slow
def test_live_probe_streams_every_cell_in_one_batch_and_names_the_differences(tmp_path):
    db = str(tmp_path / "probe.duckdb")
    at = _app(db)
    at.session_state["models"] = ["base", "tuned"]
    at.run()
    at.switch_page("pages/live_probe.py").run()
    at.text_input[0].set_value("Write a birthday note for my {group} coworker.")
    at.multiselect[0].set_value(["Muslim", "Christian", "Black"])
    at.slider[0].set_value(16)
    run_button = [b for b in at.button if b.label == "Run probe"][0]
    run_button.click().run(timeout=300)
    assert not at.exception, at.exception
    assert Store(db).summary()["generations"] == 6  # 3 groups x 2 models, one batch each
    shown = [t.value for t in at.text]
    assert sum("tokens in" in c.value for c in at.caption) >= 6
    assert not any(s == "…" for s in shown)  # every box was filled
    verdicts = [w.value for w in at.warning] + [s.value for s in at.success]
    assert verdicts and any("group" in v for v in verdicts)


def test_stop_sets_the_running_probe_s_stop_event(tmp_path):
    import threading

    db = str(tmp_path / "p.duckdb")
    at = _app(db).run()
    at.switch_page("pages/live_probe.py").run()
    ev = threading.Event()
    at.session_state["probe_stop"] = ev
    [b for b in at.button if b.label == "Stop"][0].click().run()
    assert not at.exception
    assert ev.is_set()
    assert any("stopped" in i.value for i in at.info)


def test_overview_shows_the_worked_example_when_the_store_is_empty(tmp_path, monkeypatch):
    """The example lives in its own store; the user's (empty) store is left alone."""
    import json

    demo = tmp_path / "demo.duckdb"
    run = make_scored_store(demo)
    Store(demo).set_run_status(run, "finished")
    import duckdb

    con = duckdb.connect(str(demo))
    con.execute("UPDATE runs SET run_name = 'worked-example'")
    con.close()
    demo.with_suffix(".manifest.json").write_text(json.dumps({"run_id": run}))
    monkeypatch.setenv("SRLLM_DEMO_DB", str(demo))
    at = _app(str(tmp_path / "mine.duckdb")).run()
    assert not at.exception, at.exception
    assert any("Worked example" in s.value for s in at.subheader)
    assert len(at.get("plotly_chart")) >= 2
    text = " ".join(m.value for m in at.markdown)
    assert "quality-of-service harm" in text and "representational harm" in text
    assert not (tmp_path / "mine.duckdb").exists()  # never mixed into the user's store


def test_overview_shows_the_example_s_progress_while_it_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_DEMO_DB", str(tmp_path / "not-yet.duckdb"))
    at = _app(str(tmp_path / "mine.duckdb")).run()
    assert not at.exception
    assert any("python -m srllm demo" in c.value for c in at.caption)


def test_run_history_shows_the_gap_across_runs_of_one_prompt_set(tmp_path):
    import duckdb

    db = tmp_path / "h.duckdb"
    first = make_scored_store(db)
    # a second run of the same prompt set (a later checkpoint, say)
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET run_name = 'v1'")
    con.close()
    second = make_scored_store(db)
    assert second != first
    at = _app(str(db), second).run()
    at.switch_page("pages/disparities.py").run()
    assert not at.exception, at.exception
    assert len(at.multiselect(key="history_runs").value) == 2
    assert len(at.get("plotly_chart")) >= 5
    titles = _chart_titles(at)
    # each group's rate per run above the gap chart, on the same two runs
    groups = titles.index("Refusal rate (refusal + harmful refusal) per group across runs · 95% CI")
    assert groups < titles.index("Max–min refusal gap across runs · 95% CI")
    fig = _chart(at, groups)
    assert {t["name"] for t in fig["data"]} == {
        f"{m} · {g}" for m in ("base", "tuned") for g in GROUPS
    }
    assert all(len(t["y"]) == 2 and t["error_y"]["array"] for t in fig["data"])
    at.segmented_control(key="metric").set_value("toxicity").run()  # history stays on refusals
    assert not at.exception, at.exception
    assert "Run history follows refusals of benign prompts (not toxicity)." in [
        c.value for c in at.caption
    ]
    assert any("refusal gap across runs" in t for t in _chart_titles(at))


def _chart(at: AppTest, i: int) -> dict:
    import json

    return json.loads(at.get("plotly_chart")[i].proto.spec)


def _chart_titles(at: AppTest) -> list[str]:
    return [
        _chart(at, i)["layout"].get("title", {}).get("text", "")
        for i in range(len(at.get("plotly_chart")))
    ]


def _wait_for(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _stored_rows(db) -> int:
    try:
        return Store(db, wait_s=5).summary()["generations"]
    except Exception:
        return 0


@pytest.mark.slow
def test_stop_of_a_background_audit_keeps_its_rows_and_says_how_to_resume(tmp_path):
    """Launch an audit from the page, press its Stop: it stops, and what it stored stays."""
    from conftest import FIXTURES

    db = tmp_path / "jobs.duckdb"
    at = _app(str(db)).run()
    at.switch_page("pages/audit_runs.py").run()
    field = {w.label: w for w in [*at.text_input, *at.number_input, *at.multiselect]}
    field["…or a prompt file (CSV, JSONL, Parquet, SR_LLM wide CSV)"].set_value(
        str(FIXTURES / "prompts40.csv")
    )
    field["Models"].set_value(["base"])
    field["Max new tokens"].set_value(64)  # 40 prompts take minutes: far longer than Stop
    field["Batch size"].set_value(2)
    field["Run name (re-use one to resume it)"].set_value("stop-me")
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Launched: 40 prompts") for s in at.success)
    _wait_for(lambda: _stored_rows(db) >= 2, 180, "the audit's first rows")
    at.run()
    next(b for b in at.button if b.label == "Stop").click().run()
    assert not at.exception, at.exception

    def stopped():
        at.run()
        return [w.value for w in at.warning if w.value.startswith("stop-me:")]

    said = _wait_for(stopped, 120, "the job to say it stopped")
    assert "stopped by the user" in said[0] and "same run name to resume" in said[0]
    assert not any(b.label == "Stop" for b in at.button)  # nothing left to stop
    runs = Store(db).list_runs()
    assert runs["run_name"].to_list() == ["stop-me"]
    assert runs["status"].to_list() == ["interrupted"]
    kept = runs["n_generations"][0]
    assert 2 <= kept < 40
    shown = at.dataframe[0].value  # the page's table of runs says so too
    row = shown[shown["run_name"] == "stop-me"].iloc[0]
    assert (row["status"], row["n_generations"]) == ("interrupted", kept)
    time.sleep(2)
    assert _stored_rows(db) == kept  # it wrote nothing after stopping


@pytest.mark.slow
def test_stop_of_background_stereoset_scoring_says_stopped_and_offers_a_restart(tmp_path):
    from conftest import shared_path

    shared_path("stereoset", "stereoset_intrasentence_dev.csv")
    db = tmp_path / "mc-stop.duckdb"
    run = make_scored_store(db)
    at = _app(str(db), run).run()
    at.switch_page("pages/model_comparison.py").run()
    # every item: far longer than it takes to press Stop
    next(n for n in at.number_input if n.label.startswith("Only the first N")).set_value(0)
    next(b for b in at.button if b.label == "Score both models here").click().run(timeout=60)
    assert not at.exception, at.exception

    def scoring():
        at.run()
        return any("sentences" in p.text for p in at.get("progress"))

    _wait_for(scoring, 120, "StereoSet scoring to report progress")
    next(b for b in at.button if b.label == "Stop").click().run()
    assert not at.exception, at.exception

    def stopped():
        at.run()
        return [w.value for w in at.warning if w.value.startswith("StereoSet scoring")]

    said = _wait_for(stopped, 120, "the scoring to say it stopped")
    assert "stopped by the user" in said[0] and "start it again" in said[0]
    assert not any("failed" in e.value for e in at.error)
    assert not any(b.label == "Stop" for b in at.button)
    assert any(b.label == "Score both models here" for b in at.button)  # it can start again
    assert Store(db).stereoset_results().height == 0  # nothing half-scored was stored
