"""The DuckDB store: migrations, idempotent writes, resume keys, newer schema."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from srllm.errors import StoreError
from srllm.prompts import PROMPT_COLUMNS
from srllm.store import SCHEMA_VERSION, Store


def _prompts(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "prompt_id": f"p{i}",
                "template_id": "t",
                "axis": "religion",
                "group": g,
                "name": None,
                "kind": "qos",
                "prompt": f"Help my {g} friend {i}",
            }
            for i, g in enumerate(["Muslim", "Hindu", "Christian"][:n])
        ],
        schema={c: pl.String for c in PROMPT_COLUMNS},
    )


def _run(store: Store) -> str:
    return store.create_run(
        run_name="r",
        prompts=_prompts(),
        prompt_source="x",
        prompt_set_hash="h",
        config={},
        models=[],
        git_commit=None,
        versions={},
        seed=0,
    )


def _gen(run_id: str, pid: str, k: int = 0, text: str = "ok") -> dict:
    return {
        "run_id": run_id,
        "model": "base",
        "prompt_id": pid,
        "sample_idx": k,
        "response": text,
        "n_tokens": 1,
        "seconds": 0.1,
        "error": None,
    }


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
            {
                "generation_id": gid,
                "scorer": "category",
                "version": "1",
                "value": 0.9,
                "label": "refusal",
            },
            {
                "generation_id": gid,
                "scorer": "toxicity",
                "version": "1",
                "value": 0.1,
                "label": "non_toxic",
            },
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


def test_delete_run_removes_everything(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    run = _run(store)
    store.add_generations([_gen(run, "p0")])
    store.delete_run(run)
    assert store.summary() == {"runs": 0, "prompts": 0, "generations": 0, "scores": 0, "labels": 0}
