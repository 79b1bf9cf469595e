"""AppTest for every page: no exception and the key elements, on a real DuckDB store."""

from __future__ import annotations

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
