"""StereoSet scoring with the real embedded model (slow: loads SmolLM2-135M)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, shared_path

from srllm.config import prefer_passive_openmp
from srllm.stereoset import (
    SCORE_COLUMNS,
    intrasentence_metrics,
    item_outcomes,
    load_intrasentence,
    score_items,
    score_sentences,
    stereoset_metrics_table,
)

pytestmark = pytest.mark.slow
prefer_passive_openmp()  # effective when this module is collected before torch is imported


@pytest.fixture(scope="module")
def items40():
    return load_intrasentence(shared_path("stereoset", "stereoset_intrasentence_dev.csv"), limit=40)


def test_scores_and_rankings_agree_across_batch_sizes_and_layouts(base_model, items40):
    batched = score_items(base_model, items40, batch_size=16, packing="trie")
    padded = score_items(base_model, items40, batch_size=32, packing="none")
    single = score_items(base_model, items40.head(12), batch_size=1, packing="none")
    a = np.column_stack([batched[c].to_numpy() for c in SCORE_COLUMNS])
    b = np.column_stack([padded[c].to_numpy() for c in SCORE_COLUMNS])
    one = np.column_stack([single[c].to_numpy() for c in SCORE_COLUMNS])
    np.testing.assert_allclose(a[:12], one, atol=1e-4)
    assert np.all(a < 0)  # log-probabilities
    np.testing.assert_allclose(a, b, atol=1e-4)
    # the per-item ranking (what the metrics use) is the same
    assert [x.tolist() for x in item_outcomes(*a.T)] == [x.tolist() for x in item_outcomes(*b.T)]
    rows = intrasentence_metrics(batched, n_boot=200)
    overall = rows[-1]
    assert overall["n_items"] == 40
    for row in rows:
        for m in ("lms", "ss", "icat"):
            assert 0.0 <= row[m] <= 100.0
    # a working LM prefers meaningful fillings over unrelated ones far more often than chance
    assert overall["lms"] > 70.0


def _official_naive(lm, sentences, start_id):
    """StereoSet's own GPT-2 scorer, one sentence at a time (softmax, log2, 2 ** mean)."""
    import torch

    tok, model = lm.tokenizer, lm.model
    out = []
    with torch.inference_mode():
        first = torch.softmax(model(torch.tensor([[start_id]])).logits[0, -1], dim=-1)
        for sentence in sentences:
            tokens = tok.encode(sentence, add_special_tokens=False)
            probs = [first[tokens[0]].item()]
            logits = model(torch.tensor([tokens])).logits[0]
            soft = torch.softmax(logits, dim=-1)
            probs += [soft[i - 1, tokens[i]].item() for i in range(1, len(tokens))]
            out.append(2 ** np.mean(np.log2(probs)))
    return np.array(out)


def test_scores_equal_the_official_scorer_computed_naively(base_model, items40):
    from srllm.stereoset import SENTENCE_COLUMNS, start_token_id

    sents = [s for c in SENTENCE_COLUMNS for s in items40[c].to_list()[:8]]
    naive = _official_naive(base_model, sents, start_token_id(base_model.tokenizer))
    for packing in ("trie", "none"):
        ours = score_sentences(base_model, sents, packing=packing, batch_size=16)
        # ours is the log of the official geometric mean
        np.testing.assert_allclose(np.exp(ours), naive, rtol=1e-4)


def test_start_token_choice_for_smollm2(base_model):
    from srllm.stereoset import start_token_id

    tok = base_model.tokenizer
    assert tok.convert_ids_to_tokens(start_token_id(tok)) == "<|endoftext|>"
    assert start_token_id(tok, "<|im_start|>") == tok.bos_token_id
    sents = ["The cat sat on the mat.", "The cat sat on the hat.", "The cat ran.", "A dog."]
    for cond in ("official", "prefix"):
        plain = score_sentences(base_model, sents, packing="none", conditioning=cond)
        packed = score_sentences(base_model, sents, packing="trie", conditioning=cond)
        np.testing.assert_allclose(plain, packed, atol=1e-4)
    # the start token matters: conditioning on the chat-turn token gives other scores
    other = score_sentences(base_model, sents, start_token="<|im_start|>")
    assert not np.allclose(other, score_sentences(base_model, sents))


def test_cli_json_limit_30_and_db(tmp_path):
    from srllm.models import default_adapter

    data = shared_path("stereoset", "stereoset_intrasentence_dev.csv")
    db = tmp_path / "s.duckdb"
    models = ["base", "tuned"] if default_adapter() is not None else ["base"]
    args = ["stereoset", "--models", ",".join(models), "--data", str(data), "--limit", "30"]
    res = run_cli(*args, "--json", "--batch-size", "16", "--db", str(db))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == models
    for model in models[1:]:  # the adapter changes the scores, so the figures are its own
        assert out[model]["fingerprint"]["adapter_sha256"]
        overall = out[model]["domains"]["overall"]
        assert overall["n_items"] == 30 and 0 <= overall["icat"] <= 100
    assert set(stereoset_metrics_table(db_path=db)["model"]) == set(models)
    domains = out["base"]["domains"]
    assert "overall" in domains
    assert domains["overall"]["n_items"] == 30
    assert sum(v["n_items"] for k, v in domains.items() if k != "overall") == 30
    for row in domains.values():
        assert 0 <= row["lms"] <= 100 and 0 <= row["ss"] <= 100 and 0 <= row["icat"] <= 100
        assert row["lms_ci_low"] <= row["lms"] <= row["lms_ci_high"]
    assert out["base"]["fingerprint"]["stereoset"]["start_token"] == "<|endoftext|>"
    assert out["base"]["bootstrap_ci"]["n_boot"] == 1000
    table = stereoset_metrics_table(db_path=db)
    assert set(table["domain"]) == set(domains)
    stored = table.filter(table["domain"] == "overall").row(0, named=True)
    assert stored["lms"] == pytest.approx(domains["overall"]["lms"])
    assert stored["run_label"].startswith("stereoset-stereoset_intrasentence_dev-first30-")
    assert stored["data_sha256"] == out["base"]["fingerprint"]["stereoset"]["data_sha256"]
