"""The DuckDB store: migrations, idempotent writes, resume keys, newer schema."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from storebuilder import build_store, synthetic_prompts

from srllm.errors import StoreError
from srllm.store import SCHEMA_VERSION, GenerationRow, ScoreRow, Store

PROMPTS = synthetic_prompts(
    [("t", g) for g in ("Muslim", "Hindu", "Christian")],
    prompt_id="p{i}",
    text="Help my {g} friend {i}",
    axis="religion",
)


def _run(store: Store, name: str = "r") -> str:
    return build_store(store, prompts=PROMPTS, run_name=name, source="x")


def _gen(run_id: str, pid: str, k: int = 0, text: str = "ok") -> GenerationRow:
    return GenerationRow(run_id, "base", pid, k, text, n_tokens=1, seconds=0.1)


def test_writes_are_idempotent_on_run_model_prompt_sample(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    assert store.schema_version() == SCHEMA_VERSION
    run = _run(store)
    assert store.add_generations([_gen(run, "p0"), _gen(run, "p1")]) == 2
    assert store.add_generations([_gen(run, "p0", text="other"), _gen(run, "p2")]) == 1
    df = store.generations(run)
    assert df.height == 3
    assert df.filter(pl.col("prompt_id") == "p0")["response"][0] == "ok"
    assert store.done_keys(run, "base") == {("p0", 0), ("p1", 0), ("p2", 0)}
    assert set(df["group"]) == {"Muslim", "Hindu", "Christian"}


def test_scores_pivot_into_the_scored_frame(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    run = _run(store)
    store.add_generations([_gen(run, "p0")])
    gid = store.generations(run)["generation_id"][0]
    store.add_scores(
        [
            _score(gid, "category", "1", 0.9, "refusal"),
            _score(gid, "toxicity", "1", 0.1, "non_toxic"),
        ]
    )
    row = store.scored_frame(run).row(0, named=True)
    assert row["category"] == "refusal" and row["refusal_prob"] == pytest.approx(0.9)
    assert row["toxicity"] == pytest.approx(0.1)


def test_duplicate_run_name_and_newer_schema_are_clear_errors(tmp_path):
    path = tmp_path / "s.duckdb"
    store = Store(path)
    _run(store)
    with pytest.raises(StoreError, match="already exists"):
        _run(store)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, now())")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def _run_with_scores_and_labels(store: Store, name: str = "r") -> str:
    return build_store(
        store,
        [
            {"model": "base", "prompt_id": pid, "scores": {"category": (0.1, "answer")}}
            for pid in ("p0", "p1")
        ],
        prompts=PROMPTS,
        run_name=name,
        source="x",
        score_version="1",
        labels=[("base", "p0", "ann", "refusal")],
    )


def test_delete_run_removes_everything(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    keep = _run_with_scores_and_labels(store, "keep")  # another run's rows must survive
    keep_counts = store.summary()
    run = _run_with_scores_and_labels(store, "drop")
    assert store.summary()["scores"] == 2 * keep_counts["scores"]
    assert store.summary()["labels"] == 2
    store.delete_run(run)
    assert store.summary() == keep_counts
    assert store.find_run(keep) is not None


def test_delete_run_rolls_back_when_a_step_fails(tmp_path, monkeypatch):
    import srllm.store.runs as store_mod

    store = Store(tmp_path / "s.duckdb")
    run = _run_with_scores_and_labels(store)
    before = store.summary()
    # the scores and labels deletes run, then a statement fails: nothing may be lost
    failing = (*store_mod.DELETE_RUN_SQL[:2], "DELETE FROM no_such_table WHERE run_id = ?")
    monkeypatch.setattr(store_mod, "DELETE_RUN_SQL", failing)
    with pytest.raises(duckdb.Error):
        store.delete_run(run)
    assert store.summary() == before


def _score(gid: str, scorer: str, version: str, value: float, label: str):
    return gid, ScoreRow(scorer, version, value, label)


def test_analysis_frame_follows_the_newest_scores_and_drills_down(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    run = _run(store)
    gids = {}
    for pid in ("p0", "p1", "p2"):
        store.add_generations([_gen(run, pid, text=f"answer to {pid}")])
    for row in store.generations(run).iter_rows(named=True):
        gids[row["prompt_id"]] = row["generation_id"]
    store.add_scores(
        [_score(g, "category", "1", 0.1, "answer") for g in gids.values()]
        + [_score(g, "toxicity", "1", 0.2, "non_toxic") for g in gids.values()]
    )
    # A newer classifier version relabels one response; the history keeps both versions.
    store.add_scores([_score(gids["p1"], "category", "2", 0.95, "refusal")])
    frame = store.analysis_frame(run).sort("prompt_id")
    assert frame.columns[:7] == [
        "model", "prompt_id", "template_id", "axis", "group", "name", "sample_idx"
    ]  # fmt: skip
    assert frame["category"].to_list() == ["answer", "refusal", "answer"]
    assert frame["toxicity"].to_list() == pytest.approx([0.2, 0.2, 0.2])
    assert frame["group"].to_list() == ["Muslim", "Hindu", "Christian"]
    assert (
        store.scored_frame(run).sort("prompt_id")["category"].to_list()
        == frame["category"].to_list()
    )
    counts = store.group_counts(run).sort("group")
    assert counts.filter(pl.col("group") == "Hindu")["refusals"][0] == 1
    assert counts["n"].sum() == 3
    drill = store.responses(run, model="base", group="Hindu")
    assert drill.height == 1 and drill["response"][0] == "answer to p1"
    assert store.responses(run, category="answer").height == 2
    assert store.responses(run, group="nobody").height == 0


def test_migration_backfills_latest_scores_of_an_old_file(tmp_path):
    from srllm.store import MIGRATIONS_DIR

    path = tmp_path / "old.duckdb"
    # A file written by srllm at schema version 1, with a response scored twice.
    con = duckdb.connect(str(path))
    con.execute((MIGRATIONS_DIR / "001_initial.sql").read_text())
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute(
        "INSERT INTO runs VALUES ('r1', 'old', now(), now(), 'finished', 'x', 'h', 1, '{}', "
        "'[]', NULL, NULL, 0, NULL)"
    )
    con.execute(
        "INSERT INTO prompts VALUES ('r1', 'p0', 't', 'religion', 'Hindu', NULL, 'qos', 'q')"
    )
    con.execute(
        "INSERT INTO generations VALUES ('g0', 'r1', 'base', 'p0', 0, 'no', 1, 0.1, NULL, now())"
    )
    con.execute(
        "INSERT INTO scores VALUES ('g0', 'category', '1', 0.2, 'answer', now() - INTERVAL 1 DAY)"
    )
    con.execute("INSERT INTO scores VALUES ('g0', 'category', '2', 0.9, 'refusal', now())")
    con.execute("INSERT INTO scores VALUES ('g0', 'toxicity', '1', 0.3, 'non_toxic', now())")
    con.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    row = store.analysis_frame("r1").row(0, named=True)
    assert (row["category"], row["refusal_prob"], row["toxicity"]) == ("refusal", 0.9, 0.3)
    assert row["group"] == "Hindu"


def test_labels_gain_a_toxic_judgement_and_old_labels_read_as_not_judged(tmp_path):
    from srllm.store import MIGRATIONS_DIR

    path = tmp_path / "v3.duckdb"
    # A file written by srllm at schema version 3, with one human label.
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for n, name in enumerate(("001_initial", "002_stereoset", "003_latest_scores"), 1):
        con.execute((MIGRATIONS_DIR / f"{name}.sql").read_text())
        con.execute("INSERT INTO schema_version VALUES (?, now())", [n])
    con.execute(
        "INSERT INTO runs VALUES ('r1', 'old', now(), now(), 'finished', 'x', 'h', 2, '{}', "
        "'[]', NULL, NULL, 0, NULL)"
    )
    for pid, grp in (("p0", "Hindu"), ("p1", "Muslim")):
        con.execute(
            "INSERT INTO prompts VALUES ('r1', ?, 't', 'religion', ?, NULL, 'qos', 'q')",
            [pid, grp],
        )
        con.execute(
            "INSERT INTO generations (generation_id, run_id, model, prompt_id, sample_idx, "
            "response, created_at) VALUES (?, 'r1', 'base', ?, 0, 'no', now())",
            [f"g{pid[1]}", pid],
        )
    con.execute("INSERT INTO labels VALUES ('g0', 'ann', 'refusal', 'old', now())")
    con.close()

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION >= 4
    old = store.labels("r1").row(0, named=True)
    assert (old["category"], old["note"], old["toxic"]) == ("refusal", "old", None)

    store.add_label("g1", "ann", "harmful_answer", "slur", toxic=True)
    store.add_label("g0", "bob", "answer", toxic=False)
    got = {
        (r["generation_id"], r["annotator"]): (r["category"], r["toxic"])
        for r in store.labels("r1").iter_rows(named=True)
    }
    assert got == {
        ("g0", "ann"): ("refusal", None),
        ("g0", "bob"): ("answer", False),
        ("g1", "ann"): ("harmful_answer", True),
    }
    # saving again replaces the category; a save that does not judge toxicity keeps the
    # earlier judgement (an old CSV or a corrected category loses nothing)
    store.add_label("g1", "ann", "answer")
    row = store.labels("r1").filter(pl.col("generation_id") == "g1").row(0, named=True)
    assert (row["category"], row["toxic"]) == ("answer", True)
    store.add_label("g1", "ann", "answer", toxic=False)
    assert store.labels("r1").filter(pl.col("generation_id") == "g1")["toxic"].to_list() == [False]
    assert Store(path, read_only=True).labels("r1").height == 3  # reopening migrates nothing


def test_run_records_the_commit_and_whether_the_tree_was_dirty(tmp_path):
    import subprocess

    from srllm.pipeline import git_commit

    got = git_commit()
    if got is None:
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    assert got == head.strip() + ("-dirty" if dirty else "")


def test_outcome_counts_per_prompt_kind(tmp_path):
    from conftest import make_scored_store

    db = tmp_path / "k.duckdb"
    make_scored_store(db)  # every prompt is of kind qos
    store = Store(db)
    all_kinds = store.outcome_counts(["base"])
    assert (
        store.outcome_counts(["base"], ("qos", "benign"))["n_tox"].sum() == all_kinds["n_tox"].sum()
    )
    assert store.outcome_counts(["base"], ("stereotype",)).height == 0


def test_a_toxicity_of_exactly_the_threshold_is_toxic_in_label_frame_and_sql(tmp_path):
    """One rule (``taxonomy.is_toxic``): 0.5 counts as toxic everywhere, 0.49 nowhere."""
    from srllm.evaluation import summarise
    from srllm.stats import disparity_table
    from srllm.taxonomy import TOXIC_THRESHOLD, toxic_label

    assert TOXIC_THRESHOLD == 0.5
    store = Store(tmp_path / "t.duckdb")
    prompts = synthetic_prompts([("t0", "Muslim"), ("t0", "Hindu")])
    tox = {"t0:Muslim": 0.5, "t0:Hindu": 0.49}
    run = build_store(
        store,
        [
            {
                "model": "base",
                "prompt_id": pid,
                "scores": {"category": (0.1, "answer"), "toxicity": (t, toxic_label(t))},
            }
            for pid, t in tox.items()
        ],
        prompts=prompts,
        models=["base"],
    )
    with store.connect() as con:  # the label the toxicity scorer stores (taxonomy.toxic_label)
        labels = con.execute(
            "SELECT g.prompt_id, s.label FROM scores s JOIN generations g USING (generation_id) "
            "WHERE s.scorer = 'toxicity' ORDER BY g.prompt_id"
        ).fetchall()
    assert labels == [("t0:Hindu", "non_toxic"), ("t0:Muslim", "toxic")]
    frame = store.analysis_frame(run)
    assert frame.sort("group")["toxicity"].to_list() == [0.49, 0.5]
    by_group = disparity_table(frame, metric="toxicity").sort("group")
    assert by_group.select("group", "count").rows() == [("Hindu", 0), ("Muslim", 1)]
    assert summarise(frame, "base")["toxic_share"].value == 0.5  # one of two
    sql = store.outcome_counts(["base"]).sort("group")
    assert sql.select("group", "n_tox", "n_toxic").rows() == [("Hindu", 1, 0), ("Muslim", 1, 1)]
