"""Audits on the real embedded model: stopping one and resuming it."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from srllm.config import GenerationConfig, RunConfig
from srllm.pipeline import Progress, run_audit
from srllm.store import Store


@pytest.mark.slow
def test_a_stopped_audit_keeps_its_rows_and_resumes_to_one_row_per_key(tmp_path):
    """Stop an audit through its stop callback; the same run name then completes it."""
    db = tmp_path / "s.duckdb"
    cfg = RunConfig(
        prompts=str(FIXTURES / "prompts40.csv"),
        limit=6,
        models=("base", "tuned"),
        run_name="stop-me",
        samples=2,
        generation=GenerationConfig(max_new_tokens=8, temperature=0.7, seed=5, batch_size=2),
    )
    total = 6 * 2 * 2  # prompts x models x samples
    seen: list[Progress] = []
    with pytest.raises(KeyboardInterrupt):
        # what the page's Stop button does: the callback turns true part way through
        run_audit(cfg, db, progress=seen.append, should_stop=lambda: seen[-1].done >= 3)
    store = Store(db)
    kept = store.generations()
    partial = kept.height
    assert 0 < partial < total
    assert partial == seen[-1].done  # every row it reported is stored
    runs = store.list_runs()
    assert runs["run_name"].to_list() == ["stop-me"]
    assert runs["status"].to_list() == ["interrupted"]

    res = run_audit(cfg, db)
    assert res.resumed and res.run_name == "stop-me"
    assert (res.skipped, res.added) == (partial, total - partial)
    gens = store.generations()
    assert gens.height == total
    assert gens.select("model", "prompt_id", "sample_idx").n_unique() == total
    assert set(gens["model"]) == {"base", "tuned"} and set(gens["sample_idx"]) == {0, 1}
    assert gens["response"].null_count() == 0
    # the rows stored before the stop are kept as they were, not generated again
    before = kept.select("generation_id", "response").sort("generation_id")
    after = gens.join(kept.select("generation_id"), on="generation_id").sort("generation_id")
    assert after.select("generation_id", "response").equals(before)
    runs = store.list_runs()
    assert runs.height == 1 and runs["status"][0] == "finished"


@pytest.mark.parametrize(
    ("judge", "said"),
    [
        ("base", "OpenAI-compatible endpoint"),  # a local model cannot be the judge
        ("openai:http://127.0.0.1:8000/v1", "openai:URL#MODEL"),  # no model named
        ("openai:ftp://host/v1#m", "http:// or https://"),
    ],
)
def test_a_mistyped_judge_stops_the_audit_before_any_model_loads(
    tmp_path, monkeypatch, judge, said
):
    """The judge word is checked first: no model (audited or judge) loads, no store is made."""
    import re

    import srllm.models
    from srllm.errors import SrllmError

    loaded: list = []
    monkeypatch.setattr(srllm.models, "load_model", loaded.append)  # what the judge loads with
    cfg = RunConfig(prompts="qos", limit=2, models=("base",), judge=judge)
    with pytest.raises(SrllmError, match=re.escape(said)):
        run_audit(cfg, tmp_path / "j.duckdb", loader=loaded.append)
    assert loaded == [] and not (tmp_path / "j.duckdb").exists()
