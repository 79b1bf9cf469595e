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


def test_audit_runs_page_lists_runs(scored_db):
    db, run = scored_db
    at = _app(db).run()
    at.switch_page("pages/audit_runs.py").run()
    assert not at.exception
    assert at.title[0].value == "Audit runs"
    assert at.dataframe[0].value.shape[0] == 1


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
    at.radio[0].set_value("refusal")
    at.button[0].click().run()
    assert not at.exception
    assert Store(db).labels(run).height == 1


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


def test_rewrite_page_loads(scored_db):
    db, run = scored_db
    at = _app(db, run).run()
    at.switch_page("pages/rewrite.py").run()
    assert not at.exception
    assert at.title[0].value == "Rewrite"
    assert at.text_area[0].value


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
