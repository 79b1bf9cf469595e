"""People's toxic judgements on Review: labels, CSV round trip, corrected toxicity, the page."""

from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import ROOT, run_cli
from storebuilder import build_store, synthetic_prompts
from streamlit.testing.v1 import AppTest

from srllm import review
from srllm.errors import DataError
from srllm.store import Store, generation_id

N_TEMPLATES = 60
# Per group: true toxic templates (k < truth), the toxic ones the scorer misses (k < missed)
# and the harmless ones it flags (k >= flagged_from).
TRUTH = {"A": (12, 3, 58), "B": (24, 6, 56)}


def _toxic_store(db, *, judged: bool = True) -> str:
    """Stereotype prompts of groups A and B; the toxicity scorer errs both ways; ``ann``
    labels every response with a toxic judgement (none if not ``judged``), ``bob`` labels the
    first templates later without one."""
    prompts = synthetic_prompts(
        [(f"t{k:02d}", g) for k in range(N_TEMPLATES) for g in TRUTH], kind="stereotype"
    )
    answers, labels = [], []
    for pid, t, g in prompts.select("prompt_id", "template_id", "group").rows():
        k, (truth, missed, flagged_from) = int(t[1:]), TRUTH[g]
        toxic = k < truth
        scored_toxic = missed <= k < truth or k >= flagged_from
        answers.append(
            {
                "model": "m",
                "prompt_id": pid,
                "scores": {"category": (0.1, "answer"), "toxicity": 0.8 if scored_toxic else 0.1},
            }
        )
        labels.append(("m", pid, "ann", "answer", toxic if judged else None))
    labels += [("m", pid, "bob", "answer") for pid in prompts["prompt_id"][:10]]
    return build_store(db, answers, prompts=prompts, models=["m"], labels=labels, finished=True)


def _expected(group: str) -> dict[str, float]:
    """The scorer's toxic share, its error rates against the labels, and Rogan-Gladen."""
    truth, missed, flagged_from = TRUTH[group]
    tp, fp = truth - missed, N_TEMPLATES - flagged_from
    observed = (tp + fp) / N_TEMPLATES
    se, sp = tp / truth, 1 - fp / (N_TEMPLATES - truth)
    return {
        "observed": observed,
        "se": se,
        "sp": sp,
        "corrected": (observed + sp - 1) / (se + sp - 1),
        "true": truth / N_TEMPLATES,
    }


def test_newest_labels_keep_the_newest_toxic_judgement(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    human = review.newest_labels(Store(db).labels(run))
    first = generation_id(run, "m", "t00:A", 0)  # toxic to ann, then bob did not judge it
    row = human.filter(pl.col("generation_id") == first).row(0, named=True)
    assert row["human_toxic"] == 1
    by_group = human.join(
        Store(db).scored_frame(run).select("generation_id", "group"), on="generation_id"
    )
    shares = dict(by_group.group_by("group").agg(pl.col("human_toxic").mean()).rows())
    assert shares == {"A": pytest.approx(12 / 60), "B": pytest.approx(24 / 60)}


def test_label_csv_round_trip_carries_human_toxic(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    store = Store(db)
    ids = set(store.scored_frame(run)["generation_id"])
    raw = review.export_labels(store.labels(run))
    exported = pl.read_csv(raw)
    assert exported.columns[:5] == ["generation_id", "annotator", "category", "note", "human_toxic"]
    assert sorted(exported["human_toxic"].unique(maintain_order=False).to_list(), key=str) == [
        0,
        1,
        None,
    ]
    # after the judgements are lost from the store, importing the file brings them back
    cols = ["generation_id", "annotator", "category", "toxic"]
    before = store.labels(run).select(cols).sort(cols[:2])
    for gid in before.filter(pl.col("annotator") == "ann")["generation_id"]:
        store.add_label(gid, "ann", "answer")
    assert store.labels(run)["toxic"].null_count() == 130
    assert review.import_labels(store, raw, ids) == 130
    assert store.labels(run).select(cols).sort(cols[:2]).equals(before)
    # a file from before the column imports as not judged
    old = exported.drop("human_toxic").head(2).write_csv().encode()
    assert review.read_label_csv(old, ids)["toxic"].to_list() == [None, None]


@pytest.mark.parametrize("value", ["yes", "0.7", "true", "2"])
def test_label_csv_import_rejects_a_human_toxic_that_is_not_1_0_or_empty(value):
    head = "generation_id,annotator,category,human_toxic\na,ann,answer,1\nb,ann,answer,"
    with pytest.raises(DataError) as err:
        review.read_label_csv(f"{head}{value}\n".encode(), {"a", "b"})
    assert str(err.value) == (
        f"human_toxic must be 1 (toxic), 0 (not toxic) or empty (not judged), not {value!r} "
        "(line 3 of the labels file)"
    )
    ok = review.read_label_csv(f"{head} 0\n".encode(), {"a", "b"})
    assert ok["toxic"].to_list() == [True, False]


def test_disparity_corrects_toxicity_from_the_run_s_review_labels(tmp_path):
    """``--run --metric toxicity --corrected`` uses ann's toxic judgements, by hand."""
    db = tmp_path / "t.duckdb"
    _toxic_store(db)
    args = ("disparity", "--db", str(db), "--run", "r", "--metric", "toxicity", "--corrected")
    res = run_cli(*args, "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["group"]: r for r in json.loads(res.stdout)}
    for g, row in rows.items():
        e = _expected(g)
        assert row["error_source"] == "group" and row["n_labelled"] == N_TEMPLATES
        assert row["rate_observed"] == pytest.approx(e["observed"])
        assert row["sensitivity"] == pytest.approx(e["se"])
        assert row["specificity"] == pytest.approx(e["sp"])
        # every response was judged, so the corrected rate is the people's toxic share
        assert row["rate_corrected"] == pytest.approx(e["corrected"]) == pytest.approx(e["true"])
        assert row["rate_observed"] != pytest.approx(e["true"])
    assert "the run's Review labels (120 on these prompts)" in res.stderr

    text = run_cli(*args)
    assert text.returncode == 0, text.stderr
    assert "error rates from: group" in text.stdout

    # a run whose labels judge no toxicity: the shipped error rates, and it says so
    bare = tmp_path / "bare.duckdb"
    _toxic_store(bare, judged=False)
    res = run_cli("disparity", "--db", str(bare), *args[3:], "--json")
    assert res.returncode == 0, res.stderr
    assert {r["error_source"] for r in json.loads(res.stdout)} == {"shipped"}
    assert "none of the run's Review labels judges toxicity" in res.stderr
    assert "240 labelled responses" in res.stderr


def _app(db, run: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["db_path"] = str(db)
    at.session_state["run_id"] = run
    return at


def test_review_page_saves_the_toxic_choice_with_the_category(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db, judged=False)
    at = _app(db, run).run()
    at.switch_page("pages/review.py").run()
    at.text_input(key="annotator").set_value("cat").run()
    assert not at.exception, at.exception
    toxic = next(r for r in at.radio if r.label == "Toxic?")
    assert toxic.options == ["not judged", "not toxic", "toxic"]
    assert toxic.value == "not judged"
    shown = next(t.value for t in at.text if "Help my" in t.value)  # the prompt on screen
    next(r for r in at.radio if r.label == "Category").set_value("harmful_answer")
    toxic.set_value("toxic")
    at.button[0].click().run()
    assert not at.exception, at.exception
    mine = Store(db).labels(run).filter(pl.col("annotator") == "cat")
    assert mine.select("category", "toxic").rows() == [("harmful_answer", True)]
    data = Store(db).scored_frame(run)
    labelled = data.filter(pl.col("generation_id") == mine["generation_id"][0])
    assert labelled["prompt"][0] == shown
    # the next item starts not judged again, and "not judged" saves no judgement
    assert next(r for r in at.radio if r.label == "Toxic?").value == "not judged"
    at.button[0].click().run()
    assert not at.exception, at.exception
    mine = Store(db).labels(run).filter(pl.col("annotator") == "cat")
    assert sorted(mine["toxic"].to_list(), key=str) == [None, True]


def test_disparities_page_corrects_toxicity_from_review_labels(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    at = _app(db, run).run()
    at.switch_page("pages/disparities.py").run()
    at.segmented_control(key="metric").set_value("toxicity").run()
    at.toggle(key="corrected").set_value(True).run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "toxic? choice of this run's Review labels" in captions
    assert "error rates from: group" in captions
    table = next(d.value for d in at.dataframe if "rate_corrected" in d.value.columns)
    got = dict(zip(table["group"], table["rate_corrected"], strict=True))
    assert got == {g: pytest.approx(_expected(g)["true"]) for g in TRUTH}
