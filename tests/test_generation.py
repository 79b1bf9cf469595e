"""Generation on the real embedded model."""

from __future__ import annotations

import pytest
from conftest import CHAT_PROMPTS

from srllm.config import GenerationConfig
from srllm.models import generate, stream

PROMPTS = CHAT_PROMPTS[:8]


@pytest.mark.slow
def test_transformers_batched_greedy_equals_one_at_a_time_token_for_token(base_model):
    """The transformers path: left padding and length buckets change nothing in greedy output."""
    cfg = GenerationConfig(max_new_tokens=24, batch_size=8)
    batched = generate(base_model, PROMPTS, cfg, backend="transformers")
    one = GenerationConfig(max_new_tokens=24, batch_size=1)
    single = [generate(base_model, [p], one, backend="transformers")[0] for p in PROMPTS]
    for p, b, s in zip(PROMPTS, batched, single, strict=True):
        assert b.error is None and s.error is None
        assert b.token_ids == s.token_ids, p
        assert b.n_tokens > 0 and b.text


@pytest.mark.slow
def test_fast_engine_greedy_equals_transformers_one_at_a_time(base_model):
    """The fast engine, batched, against the plain transformers path at batch size 1."""
    fast = generate(base_model, PROMPTS, GenerationConfig(max_new_tokens=24, batch_size=8))
    one = GenerationConfig(max_new_tokens=24, batch_size=1)
    ref = [generate(base_model, [p], one, backend="transformers")[0] for p in PROMPTS]
    for p, f, r in zip(PROMPTS, fast, ref, strict=True):
        assert f.error is None and r.error is None
        assert f.token_ids == r.token_ids, p


@pytest.mark.slow
def test_stream_matches_batch_and_sampling_is_seeded(base_model):
    cfg = GenerationConfig(max_new_tokens=20)
    streamed = "".join(stream(base_model, PROMPTS[1], cfg)).strip()
    assert streamed == generate(base_model, [PROMPTS[1]], cfg)[0].text
    hot = GenerationConfig(max_new_tokens=20, temperature=1.0, seed=7)
    a = generate(base_model, PROMPTS[:3], hot)
    b = generate(base_model, PROMPTS[:3], hot)
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    c = generate(
        base_model, PROMPTS[:3], GenerationConfig(max_new_tokens=20, temperature=1.0, seed=8)
    )
    assert [g.token_ids for g in a] != [g.token_ids for g in c]


@pytest.mark.slow
def test_engines_sharing_the_cpu_give_the_same_greedy_tokens(base_model):
    """The live probe's mode (one loop on a share of the threads) changes no token."""
    from srllm.models.engine import generate_fast

    cfg = GenerationConfig(max_new_tokens=16, batch_size=4)
    alone = generate_fast(base_model, PROMPTS[:4], cfg)
    shared = generate_fast(base_model, PROMPTS[:4], cfg, share=2)
    assert all(g is not None and g.n_tokens > 0 for g in shared)
    assert [g.token_ids for g in shared] == [g.token_ids for g in alone]
