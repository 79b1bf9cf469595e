"""StereoSet metrics against the published GPT-2 figures, plus data, store and CLI errors."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import run_cli, shared_path

from srllm.errors import DataError, StoreError
from srllm.stereoset import (
    intrasentence_metrics,
    item_outcomes,
    load_intrasentence,
    save_stereoset_results,
    stereoset_metrics_table,
    term_metrics,
)
from srllm.stereoset.lm import build_rows

MODELS = {
    "score_gpt2": "gpt2_ModelNSP_GPT2LM",
    "score_gpt2_medium": "gpt2-medium_ModelNSP_GPT2LM",
    "score_gpt2_large": "gpt2-large_ModelNSP_GPT2LM",
}
REF_COLUMNS = ("stereotype", "anti-stereotype", "unrelated")


def _expected() -> dict:
    path = shared_path("stereoset", "expected_intrasentence_metrics_official.json")
    return json.loads(path.read_text())


def _reference_items(score_col: str) -> pl.DataFrame:
    """One row per item with the official GPT-2 sentence scores as three columns."""
    ref = pl.read_csv(shared_path("stereoset", "stereoset_intrasentence_reference_scores.csv"))
    return ref.pivot(on="gold_label", index=["item_index", "bias_type", "target"], values=score_col)


@pytest.mark.parametrize("score_col", list(MODELS))
def test_official_gpt2_scores_reproduce_published_metrics(score_col):
    expected = _expected()[MODELS[score_col]]
    items = _reference_items(score_col)
    rows = {r["domain"]: r for r in intrasentence_metrics(items, score_columns=REF_COLUMNS)}
    checked = 0
    for domain, exp in expected.items():
        if not exp.get("reproduced_from_csv"):
            continue
        got = rows[domain]
        assert got["n_items"] == exp["n_examples"], domain
        for ours, theirs in (("lms", "LMS"), ("ss", "SS"), ("icat", "ICAT")):
            assert got[ours] == pytest.approx(exp[theirs], abs=1e-6), (domain, ours)
        checked += 1
    assert checked == 3  # gender, race, religion


def test_dev_csv_reference_columns_give_gpt2_small_figures():
    expected = _expected()["gpt2_ModelNSP_GPT2LM"]
    items = load_intrasentence(shared_path("stereoset", "stereoset_intrasentence_dev.csv"))
    cols = (
        "gpt2_ref_score_stereotype",
        "gpt2_ref_score_anti_stereotype",
        "gpt2_ref_score_unrelated",
    )
    have = items.filter(pl.col(cols[0]).is_not_null()).with_columns(
        pl.col(c).cast(pl.Float64) for c in cols
    )
    assert set(have["bias_type"].unique()) == {"gender", "race", "religion"}
    for row in intrasentence_metrics(have, score_columns=cols, n_boot=0):
        if row["domain"] == "overall":
            continue
        exp = expected[row["domain"]]
        assert row["lms"] == pytest.approx(exp["LMS"], abs=1e-6)
        assert row["ss"] == pytest.approx(exp["SS"], abs=1e-6)
        assert row["icat"] == pytest.approx(exp["ICAT"], abs=1e-6)


def test_official_overall_is_the_mean_over_all_target_terms():
    """The published overall = term-count-weighted mean of the published domains."""
    items = load_intrasentence(shared_path("stereoset", "stereoset_intrasentence_dev.csv"))
    n_terms = dict(items.group_by("bias_type").agg(pl.col("target").n_unique()).iter_rows())
    assert sum(n_terms.values()) == 79
    for name in MODELS.values():
        exp = _expected()[name]
        total = sum(n_terms.values())
        for key in ("LMS", "SS"):
            weighted = sum(n_terms[d] * exp[d][key] for d in n_terms) / total
            assert weighted == pytest.approx(exp["overall_intrasentence"][key], abs=1e-9)
        ov = exp["overall_intrasentence"]
        assert ov["LMS"] * min(ov["SS"], 100 - ov["SS"]) / 50 == pytest.approx(ov["ICAT"])
    # ... and our overall row follows the same rule.
    rows = intrasentence_metrics(_reference_items("score_gpt2"), score_columns=REF_COLUMNS)
    dom = [r for r in rows if r["domain"] != "overall"]
    overall = rows[-1]
    assert overall["domain"] == "overall"
    assert overall["n_terms"] == sum(r["n_terms"] for r in dom)
    assert overall["n_items"] == sum(r["n_items"] for r in dom)
    for key in ("lms", "ss"):
        weighted = sum(r["n_terms"] * r[key] for r in dom) / overall["n_terms"]
        assert overall[key] == pytest.approx(weighted, abs=1e-9)


def _toy() -> pl.DataFrame:
    # term t1 (gender): 1 item, pro and fully related; term t2 (gender): 3 items.
    return pl.DataFrame(
        {
            "bias_type": ["gender", "gender", "gender", "gender", "race"],
            "target": ["t1", "t2", "t2", "t2", "r1"],
            "score_stereotype": [-1.0, -2.0, -3.0, -1.0, -1.0],
            "score_anti_stereotype": [-2.0, -1.0, -3.0, -2.0, -1.0],
            "score_unrelated": [-3.0, -1.5, -3.0, -0.5, -9.0],
        }
    )


def test_item_outcomes_strict_and_ties_count_as_anti():
    pro, related = item_outcomes([1.0, 1.0, 2.0], [1.0, 0.0, 2.0], [1.0, 0.5, 3.0])
    assert pro.tolist() == [0, 1, 0]  # tie s == a is anti
    assert related.tolist() == [0, 1, 0]  # ties with u are not related


def test_toy_domain_is_mean_over_terms_not_items():
    rows = {r["domain"]: r for r in intrasentence_metrics(_toy(), n_boot=0)}
    g = rows["gender"]
    # t1: SS 100, LMS 100.  t2: pro 1/3 (item 4 only), related (0+1) + 0 + 0 = 1 of 6.
    assert g["ss"] == pytest.approx((100 + 100 / 3) / 2)
    assert g["lms"] == pytest.approx((100 + 100 / 6) / 2)
    assert g["icat"] == pytest.approx(g["lms"] * min(g["ss"], 100 - g["ss"]) / 50)
    assert (g["n_items"], g["n_terms"]) == (4, 2)
    assert rows["race"]["ss"] == 0.0 and rows["race"]["lms"] == 100.0
    assert rows["overall"]["ss"] == pytest.approx((100 + 100 / 3 + 0) / 3)
    assert [r["domain"] for r in intrasentence_metrics(_toy(), n_boot=0)] == [
        "gender",
        "race",
        "overall",
    ]
    assert g["lms_ci_low"] is None
    terms = term_metrics(_toy())
    t2 = terms.filter(pl.col("target") == "t2").row(0, named=True)
    assert (t2["n_items"], t2["pro"], t2["related"]) == (3, 1, 1)


def test_bootstrap_is_seeded_brackets_the_estimate_and_is_per_domain():
    items = _reference_items("score_gpt2")
    a = intrasentence_metrics(items, score_columns=REF_COLUMNS, n_boot=300, seed=1)
    b = intrasentence_metrics(items, score_columns=REF_COLUMNS, n_boot=300, seed=1)
    c = intrasentence_metrics(items, score_columns=REF_COLUMNS, n_boot=300, seed=2)
    assert a == b
    assert a != c
    for row in a:
        for m in ("lms", "ss", "icat"):
            assert row[f"{m}_ci_low"] <= row[m] <= row[f"{m}_ci_high"], (row["domain"], m)
            assert row[f"{m}_ci_high"] - row[f"{m}_ci_low"] > 0
    # narrower for race (962 items) than religion (79 items)
    width = {r["domain"]: r["ss_ci_high"] - r["ss_ci_low"] for r in a}
    assert width["race"] < width["religion"]
    # a domain's CI does not depend on which other domains were scored
    gender_only = items.filter(pl.col("bias_type") == "gender")
    g = intrasentence_metrics(gender_only, score_columns=REF_COLUMNS, n_boot=300, seed=1)[0]
    assert g == a[0]


def test_missing_file_and_columns_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_intrasentence(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("item_index,bias_type,target,stereotype\n0,gender,x,A sentence.\n")
    with pytest.raises(DataError, match="anti_stereotype, unrelated"):
        load_intrasentence(bad)
    with pytest.raises(DataError, match="lack"):
        intrasentence_metrics(pl.DataFrame({"bias_type": ["g"], "target": ["t"]}))


def _own_csv(path):
    """Three items written for these tests (not StereoSet sentences)."""
    path.write_text(
        "item_index,bias_type,target,context,stereotype,anti_stereotype,unrelated\n"
        "0,gender,baker,The baker is BLANK.,The baker is tired.,The baker is rested.,"
        "The baker is sideways.\n"
        "1,race,sailor,The sailor sang BLANK.,The sailor sang loudly.,The sailor sang softly.,"
        "The sailor sang triangles.\n"
        "2,race,sailor,A sailor likes BLANK.,A sailor likes the sea.,A sailor likes the hills.,"
        "A sailor likes the verb.\n"
    )
    return path


def test_load_limit_and_types(tmp_path):
    df = load_intrasentence(_own_csv(tmp_path / "own.csv"), limit=2)
    assert df.height == 2
    assert df["item_index"].dtype == pl.Int64
    with pytest.raises(DataError, match="positive"):
        load_intrasentence(tmp_path / "own.csv", limit=0)


def test_build_rows_shares_prefixes_and_keeps_every_sentence():
    ids = [[5, 6, 7], [5, 6, 8], [5, 9], [5, 6, 7], [1, 2, 3, 4, 5, 6]]
    rows = build_rows(ids, row_tokens=5)
    ends = sorted(i for r in rows for i, _ in r.ends)
    assert ends == [0, 1, 2, 3, 4]
    for row in rows:
        for i, end in row.ends:  # walking up from the end node spells the sentence
            seq, node = [], end
            while node >= 0:
                seq.append(row.tokens[node])
                node = row.parents[node]
            assert seq[::-1] == ids[i]
            assert row.depths[end] == len(ids[i]) - 1
    # [5,6,7],[5,6,7],[5,6,8],[5,9] share one trie of 5 nodes; the long one gets its own row
    assert sorted(len(r.tokens) for r in rows) == [5, 6]


def _rows():
    return intrasentence_metrics(_toy(), n_boot=50, seed=0)


def test_store_is_idempotent_and_tabulates(tmp_path):
    db = tmp_path / "s.duckdb"
    fp = {"source": "x", "adapter": None, "note": "quote ' and ; DROP TABLE"}
    assert save_stereoset_results(db, "run1", "base", fp, _rows()) == 3
    assert save_stereoset_results(db, "run1", "base", fp, _rows()) == 3
    save_stereoset_results(db, "run1", "tuned", fp, _rows())
    table = stereoset_metrics_table(db_path=db)
    assert table.height == 6
    assert table.filter(pl.col("model") == "base")["domain"].to_list() == [
        "gender",
        "race",
        "overall",
    ]
    assert stereoset_metrics_table(db_path=db, models=["tuned"]).height == 3
    assert stereoset_metrics_table(db_path=db, run_label="other").height == 0
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    stored = json.loads(
        con.execute("SELECT fingerprint FROM stereoset_results LIMIT 1").fetchone()[0]
    )
    con.close()
    assert stored == fp
    from_results = stereoset_metrics_table({"base": _rows()})
    assert from_results.columns[:7] == [
        "model",
        "domain",
        "n_items",
        "n_terms",
        "lms",
        "ss",
        "icat",
    ]
    assert "icat_ci_high" in from_results.columns
    assert from_results["lms"].to_list() == table.filter(pl.col("model") == "base")["lms"].to_list()
    assert stereoset_metrics_table(db_path=tmp_path / "none.duckdb").height == 0
    with pytest.raises(DataError):
        stereoset_metrics_table()
    bad = tmp_path / "not.duckdb"
    bad.write_text("not a database")
    with pytest.raises(StoreError):
        save_stereoset_results(bad, "r", "m", {}, _rows())


def test_store_keeps_each_evaluation_and_latest_picks_the_newest(tmp_path):
    db = tmp_path / "s.duckdb"
    fp = {"stereoset": {"data_sha256": "abc", "git_commit": "c0ffee"}}
    save_stereoset_results(db, "old", "base", fp, _rows(), seconds=1.5)
    newer = [{**r, "lms": r["lms"] - 1.0} for r in _rows()]
    save_stereoset_results(db, "new", "base", fp, newer)
    save_stereoset_results(db, "old", "tuned", fp, _rows())
    every = stereoset_metrics_table(db_path=db)
    assert sorted(set(every["run_label"])) == ["new", "old"] and every.height == 9
    latest = stereoset_metrics_table(db_path=db, latest=True)
    picked = dict(latest.group_by("model").agg(pl.col("run_label").unique()).iter_rows())
    assert picked == {"base": ["new"], "tuned": ["old"]}
    base = latest.filter(pl.col("model") == "base")
    assert base["lms"].to_list() == [r["lms"] for r in newer]
    old = stereoset_metrics_table(db_path=db, run_label="old", models=["base"])
    assert old["data_sha256"].to_list() == ["abc"] * 3 and old["seconds"][0] == 1.5
    assert old["git_commit"][0] == "c0ffee"


def test_migration_002_upgrades_a_version_1_store(tmp_path):
    import duckdb

    from srllm.store import MIGRATIONS_DIR, SCHEMA_VERSION, Store

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    con.execute((MIGRATIONS_DIR / "001_initial.sql").read_text())
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.close()
    with pytest.raises(StoreError, match="schema upgrade"):
        Store(path, read_only=True)
    store = Store(path)
    assert SCHEMA_VERSION >= 2 and store.schema_version() == SCHEMA_VERSION
    assert store.stereoset_results().height == 0
    assert save_stereoset_results(path, "r", "base", {}, _rows()) == 3


def test_a_store_made_without_002_gets_it_even_when_newer_ones_are_applied(tmp_path):
    """Migrations merged out of order: a file with 001 and 003 still gets 002."""
    import duckdb

    from srllm.store import Store, migrations

    path = tmp_path / "gap.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for number, sql in migrations():
        if number != 2:
            con.execute(sql.read_text())
            con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
    con.close()
    store = Store(path)
    assert 2 in store.applied_migrations()
    assert save_stereoset_results(path, "r", "base", {}, _rows()) == 3
    assert store.stereoset_results().height == 3


def test_cli_missing_data_file_exits_2(tmp_path):
    res = run_cli("stereoset", "--models", "base", "--data", str(tmp_path / "missing.csv"))
    assert res.returncode == 2
    assert "StereoSet data not found" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_unknown_model_and_bad_columns_exit_2(tmp_path):
    own = _own_csv(tmp_path / "own.csv")
    res = run_cli("stereoset", "--models", "no_such_model_here", "--data", str(own))
    assert res.returncode == 2
    assert "unknown model" in res.stderr and "Traceback" not in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("item_index,target\n0,x\n")
    res = run_cli("stereoset", "--models", "base", "--data", str(bad))
    assert res.returncode == 2
    assert "lacks StereoSet column(s)" in res.stderr


def test_cli_tuned_without_adapter_is_one_clear_line(tmp_path):
    # An adapters folder with no adapter (SRLLM_ADAPTERS), as on a checkout before training.
    (tmp_path / "adapters").mkdir()
    res = run_cli(
        "stereoset",
        *("--models", "base,tuned", "--data", str(_own_csv(tmp_path / "o.csv"))),
        env={"SRLLM_ADAPTERS": str(tmp_path / "adapters")},
    )
    assert res.returncode == 2
    assert "model 'tuned'" in res.stderr and "no safety adapter" in res.stderr
    assert "Traceback" not in res.stderr


def test_metrics_rows_keys_are_stable():
    from srllm.stereoset import ROW_COLUMNS

    for row in _rows():
        assert tuple(row) == ROW_COLUMNS
        assert all(np.isfinite(row[k]) for k in ROW_COLUMNS[1:])
