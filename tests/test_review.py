"""People's toxic judgements on Review: labels, CSV round trip, corrected toxicity, the page."""

from __future__ import annotations

import json

import numpy as np
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
    # re-labelling without a toxic judgement keeps the judgements
    for gid in before.filter(pl.col("annotator") == "ann")["generation_id"]:
        store.add_label(gid, "ann", "answer")
    assert store.labels(run)["toxic"].null_count() < 130
    with store.connect(write=True) as con:
        con.execute("UPDATE labels SET toxic = NULL")
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
    assert "labelled responses of the embedded models" in res.stderr


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


def _scorer_vs_people(group: str) -> tuple[list[int], list[int]]:
    """The scorer's toxic call and ann's judgement per template of a group, from TRUTH."""
    truth, missed, flagged_from = TRUTH[group]
    people = [int(k < truth) for k in range(N_TEMPLATES)]
    scorer = [int(missed <= k < truth or k >= flagged_from) for k in range(N_TEMPLATES)]
    return scorer, people


def _second_judge(db, run: str) -> None:
    """``cy`` judges the first 20 templates of each group, calling t00 to t03 of A wrongly."""
    store = Store(db)
    for g, (truth, _, _) in TRUTH.items():
        for k in range(20):
            toxic = (k < truth) != (g == "A" and k < 4)
            store.add_label(generation_id(run, "m", f"t{k:02d}:{g}", 0), "cy", "answer", "", toxic)


def test_toxic_agreement_per_group_against_sklearn_and_the_counts(tmp_path):
    from sklearn.metrics import cohen_kappa_score

    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    store = Store(db)
    data, labels = store.scored_frame(run), store.labels(run)
    # bob judged no toxicity: nothing to compare between annotators yet
    assert list(review.agreement_tables(data, labels, "toxic?")) == ["scorer vs people"]
    _second_judge(db, run)
    tables = review.agreement_tables(data, store.labels(run), "toxic?")
    assert set(tables) == {"scorer vs people", "between annotators"}
    rows = {r["group"]: r for r in tables["scorer vs people"].iter_rows(named=True)}
    all_s, all_p = [], []
    for g, (truth, missed, flagged_from) in TRUTH.items():
        scorer, people = _scorer_vs_people(g)
        all_s, all_p = all_s + scorer, all_p + people
        # cy judged after ann, so people's newest call on t00-t03 of A is cy's (wrong) one
        if g == "A":
            people = [1 - p if k < 4 else p for k, p in enumerate(people)]
            all_p[:4] = people[:4]
        row = rows[g]
        assert row["n_items"] == N_TEMPLATES
        assert row["kappa"] == pytest.approx(cohen_kappa_score(scorer, people))
        if g == "B":  # B's counts straight from TRUTH
            fp = N_TEMPLATES - flagged_from
            assert (row["tp"], row["fn"], row["fp"]) == (truth - missed, missed, fp)
            assert row["tn"] == N_TEMPLATES - truth - fp
    assert rows[None]["kappa"] == pytest.approx(cohen_kappa_score(all_s, all_p))
    # between annotators: ann and cy on the 40 responses both judged; they differ on 4 of A
    between = {r["group"]: r for r in tables["between annotators"].iter_rows(named=True)}
    a_ann = [int(k < TRUTH["A"][0]) for k in range(20)]
    a_cy = [1 - v if k < 4 else v for k, v in enumerate(a_ann)]
    assert between["A"]["n_items"] == 20 and between["A"]["observed"] == pytest.approx(16 / 20)
    assert between["A"]["kappa"] == pytest.approx(cohen_kappa_score(a_ann, a_cy))
    # in B both called all 20 toxic: one class, so kappa is undefined though they all agree
    assert np.isnan(between["B"]["kappa"]) and between["B"]["observed"] == 1.0
    assert between[None]["n_items"] == 40


def test_toxic_agreement_without_judgements_or_with_one_class(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db, judged=False)
    store = Store(db)
    data = store.scored_frame(run)
    assert review.agreement_tables(data, store.labels(run), "toxic?") == {}
    # one judgement only, of a response the scorer calls harmless: kappa undefined, no crash
    gid = generation_id(run, "m", "t20:A", 0)
    store.add_label(gid, "ann", "answer", "", False)
    table = review.agreement_tables(data, store.labels(run), "toxic?")["scorer vs people"]
    assert table["group"].to_list() == [None, "A"]
    assert table["n_items"].to_list() == [1, 1] and table["tn"].to_list() == [1, 1]
    assert table["kappa"].is_nan().all()
    with pytest.raises(DataError, match="unknown judgement"):
        review.agreement_tables(data, store.labels(run), "sentiment")


def test_labels_needed_for_toxicity_uses_the_toxic_judgements(tmp_path):
    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    store = Store(db)
    data = store.scored_frame(run)
    table = review.labels_needed_by_group(data, store.labels(run), metric="toxicity", width=0.1)
    for row in table.iter_rows(named=True):
        e = _expected(row["group"])
        assert row["responses"] == row["labelled"] == N_TEMPLATES
        assert row["sensitivity"] == pytest.approx(e["se"])
        assert row["specificity"] == pytest.approx(e["sp"])
        assert row["needed"] > 0
    wider = review.labels_needed_by_group(data, store.labels(run), metric="toxicity", width=0.3)
    assert (wider["needed"] <= table["needed"]).all()
    # labels without a toxic judgement count for categories but not for toxicity
    bare = tmp_path / "bare.duckdb"
    run = _toxic_store(bare, judged=False)
    data, labels = Store(bare).scored_frame(run), Store(bare).labels(run)
    none = review.labels_needed_by_group(data, labels, metric="toxicity")
    assert none["labelled"].to_list() == [0, 0] and none["sensitivity"].is_null().all()
    assert review.labels_needed_by_group(data, labels)["labelled"].to_list() == [60, 60]


def test_review_page_shows_toxic_agreement(tmp_path):
    from sklearn.metrics import cohen_kappa_score

    db = tmp_path / "t.duckdb"
    run = _toxic_store(db)
    _second_judge(db, run)
    at = _app(db, run).run()
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    heads = [h.value for h in at.subheader]
    assert "Agreement (Cohen's kappa, per group)" in heads
    assert not any("tp" in d.value.columns for d in at.dataframe)
    at.segmented_control(key="judge").set_value("toxic?").run()
    assert not at.exception, at.exception
    heads = [h.value for h in at.subheader]
    assert "Agreement on toxic? (Cohen's kappa, per group)" in heads
    assert {t.label for t in at.tabs} == {"scorer vs people", "between annotators"}
    table = next(d.value for d in at.dataframe if "tp" in d.value.columns)
    b = table[table["group"] == "B"].iloc[0]
    scorer, people = _scorer_vs_people("B")
    assert (b["tp"], b["fn"], b["n_items"]) == (18, 6, 60)
    assert b["kappa"] == pytest.approx(cohen_kappa_score(scorer, people))
    # the labels-needed table follows the selector: toxic judgements and the scorer's errors
    needed = next(d.value for d in at.dataframe if "needed" in d.value.columns)
    b_needed = needed[needed["group"] == "B"].iloc[0]
    assert b_needed["labelled"] == N_TEMPLATES
    assert b_needed["specificity"] == pytest.approx(_expected("B")["sp"])
    assert any("toxicity-rate interval" in s.label for s in at.slider)
