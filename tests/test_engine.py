"""The fast generation engine against the transformers path, on the real embedded model."""

from __future__ import annotations

import pytest
from conftest import CHAT_PROMPTS as PROMPTS

from srllm.config import GenerationConfig
from srllm.models import engine, generate

NEW = 32


@pytest.fixture(scope="module")
def reference(base_model):
    """The transformers path one prompt at a time: the output the engine must equal."""
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=1)
    return [generate(base_model, [p], cfg, backend="transformers")[0] for p in PROMPTS]


def test_common_prefix_leaves_every_prompt_a_token():
    assert engine._common_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 4, 9]]) == 3
    assert engine._common_prefix([[1, 2, 3], [1, 2, 3]]) == 2
    assert engine._common_prefix([[7], [7, 8]]) == 0
    assert engine._common_prefix([[1, 2], [3, 4]]) == 0


def test_backend_choice(monkeypatch):
    monkeypatch.delenv(engine.ENV_BACKEND, raising=False)
    assert engine.backend_choice() == "auto"
    assert engine.backend_choice("transformers") == "transformers"
    monkeypatch.setenv(engine.ENV_BACKEND, "off")
    assert engine.backend_choice() == "transformers"
    assert engine.backend_choice("fast") == "fast"
    with pytest.raises(ValueError, match="unknown generation backend"):
        engine.backend_choice("turbo")


@pytest.mark.slow
def test_embedded_model_takes_the_engine(base_model):
    assert engine.unsupported_reason(base_model) is None
    assert base_model.device == "cpu" or base_model.device.startswith("cuda")


@pytest.mark.slow
@pytest.mark.parametrize("slots", [None, 5, 1], ids=["default-slots", "5-slots", "1-slot"])
def test_greedy_equals_transformers_one_at_a_time(base_model, reference, slots):
    """Token for token, with every prompt in one batch, with slot refills, and unbatched."""
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=16)
    fast = engine.generate_fast(base_model, PROMPTS, cfg, slots=slots)
    for p, f, r in zip(PROMPTS, fast, reference, strict=True):
        assert f is not None and r.error is None
        assert f.token_ids == r.token_ids, p
        assert f.text == r.text and f.n_tokens == r.n_tokens
    # the set exercises both ends: rows stopped by end-of-sequence and by the token limit
    assert any(r.n_tokens < NEW for r in reference)
    assert any(r.n_tokens == NEW for r in reference)


@pytest.mark.slow
def test_generate_dispatches_to_the_engine_and_reports_batches(base_model, reference):
    seen: list[int] = []
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=8)
    gens = generate(base_model, PROMPTS, cfg, on_batch=lambda idx, g: seen.extend(idx))
    assert sorted(seen) == list(range(len(PROMPTS)))
    assert [g.token_ids for g in gens] == [r.token_ids for r in reference]
    assert all(g.seconds > 0 for g in gens)


@pytest.mark.slow
def test_engine_failure_falls_back_to_transformers(base_model, reference, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("engine broke")

    monkeypatch.setattr(engine.Engine, "run", boom)
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=1)
    gens = generate(base_model, PROMPTS[:2], cfg)
    assert [g.token_ids for g in gens] == [r.token_ids for r in reference[:2]]
    assert all(g.error is None for g in gens)


@pytest.mark.slow
def test_sampling_is_seeded_per_prompt(base_model):
    hot = GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7)
    a = engine.generate_fast(base_model, PROMPTS[:6], hot)
    b = engine.generate_fast(base_model, PROMPTS[:6], hot, slots=2)
    assert [g.token_ids for g in a] == [g.token_ids for g in b]  # batching does not matter
    c = engine.generate_fast(
        base_model, PROMPTS[:6], GenerationConfig(**{**hot.to_dict(), "seed": 8})
    )
    assert [g.token_ids for g in a] != [g.token_ids for g in c]
    # a prompt's sample depends on its seed (seed + offset + index), not on its neighbours
    alone = engine.generate_fast(base_model, PROMPTS[2:3], hot, seed_offset=2)
    assert alone[0].token_ids == a[2].token_ids


@pytest.mark.slow
def test_tiny_top_p_keeps_only_the_top_token(base_model, reference):
    nucleus = GenerationConfig(max_new_tokens=NEW, temperature=0.7, top_p=1e-6, seed=3)
    got = engine.generate_fast(base_model, PROMPTS[:4], nucleus)
    assert [g.token_ids for g in got] == [r.token_ids for r in reference[:4]]


@pytest.mark.slow
def test_lora_adapter_is_merged_into_a_copy(base_model, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from srllm.models import load_model, resolve_model

    torch.manual_seed(0)
    peft_model = get_peft_model(
        load_model(resolve_model("base")).model,
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    tuned = load_model(resolve_model(f"base+{tmp_path / 'adapter'}"))
    assert engine.unsupported_reason(tuned) is None
    cfg = GenerationConfig(max_new_tokens=24, batch_size=1)
    prompts = PROMPTS[:6]
    fast = engine.generate_fast(tuned, prompts, cfg)
    ref = [generate(tuned, [p], cfg, backend="transformers")[0] for p in prompts]
    assert [f.token_ids for f in fast] == [r.token_ids for r in ref]
    base = engine.generate_fast(base_model, prompts, cfg)
    assert [f.token_ids for f in fast] != [b.token_ids for b in base]  # the adapter counts
    assert hasattr(tuned.model, "peft_config")  # the loaded model itself stays unmerged
    # the same adapter unmerged, its rows beside the base's in one run (LoRA on q and v only:
    # the fused q/k/v projection gets a zero block for k)
    assert engine.joinable(base_model, tuned) and not engine.joinable(tuned, base_model)
    joint = engine.generate_joint([base_model, tuned], prompts, cfg)
    assert [g.token_ids for g in joint[: len(prompts)]] == [b.token_ids for b in base]
    assert [g.token_ids for g in joint[len(prompts) :]] == [r.token_ids for r in ref]


@pytest.mark.slow
def test_base_and_shipped_adapter_share_one_run_token_for_token(base_model):
    """The live probe's batch: base rows and tuned rows (LoRA per row) through one weight read.

    Each row equals its own model's output on the transformers path, one prompt at a time.
    """
    from srllm.models import load_model, resolve_model

    tuned = load_model(resolve_model("tuned"))
    assert engine.joinable(base_model, tuned)
    assert not engine.joinable(base_model, base_model)
    cfg = GenerationConfig(max_new_tokens=24, batch_size=1)
    prompts = PROMPTS[:4]
    joint = engine.generate_joint([base_model, tuned], prompts, cfg, loops=1)
    for k, lm in enumerate([base_model, tuned]):
        ref = [generate(lm, [p], cfg, backend="transformers")[0] for p in prompts]
        got = joint[k * len(prompts) : (k + 1) * len(prompts)]
        assert [g.token_ids for g in got] == [r.token_ids for r in ref], lm.spec.name
    assert joint[: len(prompts)] != joint[len(prompts) :]
    # the live probe batches them whatever the column order, and maps every cell back
    from srllm.probe import batches, run_probe

    assert batches([tuned, base_model]) == [[1, 0]]
    cells = {
        (ev.row, ev.col): ev.generation
        for ev in run_probe([tuned, base_model], prompts, cfg)
        if ev.done
    }
    assert len(cells) == 2 * len(prompts)
    for r in range(len(prompts)):
        assert cells[r, 1].token_ids == joint[r].token_ids
        assert cells[r, 0].token_ids == joint[len(prompts) + r].token_ids
    # an adapter on other weights never joins: one base weight changed
    other = load_model(resolve_model("tuned"))
    with __import__("torch").no_grad():
        next(p for n, p in other.model.named_parameters() if "norm" in n).add_(1.0)
    assert not engine.joinable(base_model, other)


@pytest.mark.slow
def test_a_probe_does_not_wait_for_a_long_run_of_the_same_model(base_model):
    """A background audit holds the engine's cache; a probe beside it decodes in its own."""
    import threading

    cfg = GenerationConfig(max_new_tokens=16, batch_size=1)
    alone = engine.generate_joint([base_model], PROMPTS[:4], cfg)
    long_cfg = GenerationConfig(max_new_tokens=64, batch_size=64)
    started = threading.Event()
    result: list = []

    def long_run():
        result.extend(
            engine.generate_fast(
                base_model, PROMPTS * 6, long_cfg, on_tokens=lambda b: started.set()
            )
        )

    t = threading.Thread(target=long_run)
    t.start()
    assert started.wait(120)
    beside = engine.generate_joint([base_model], PROMPTS[:4], cfg, loops=1)
    still_running = t.is_alive()
    t.join()
    assert still_running  # the probe did not queue behind the long run
    assert [g.token_ids for g in beside] == [g.token_ids for g in alone]
    assert len(result) == len(PROMPTS) * 6 and all(g is not None for g in result)


@pytest.mark.slow
def test_an_adapter_with_a_lora_outside_the_decoder_projections_does_not_join(base_model):
    """A LoRA on the language-model head would be dropped in a joint run: it runs merged."""
    from peft import LoraConfig, get_peft_model

    from srllm.models import load_model, resolve_model
    from srllm.models.types import LoadedModel

    lm = load_model(resolve_model("base"))
    peft_model = get_peft_model(
        lm.model,
        LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "lm_head"], init_lora_weights=False
        ),
    )
    other = LoadedModel(
        spec=lm.spec,
        model=peft_model,
        tokenizer=lm.tokenizer,
        device=lm.device,
        load_seconds=0.0,
        fingerprint={},
    )
    assert engine._lora_only(base_model.model) and not engine._lora_only(peft_model)
    assert not engine.joinable(base_model, other)


def test_engine_threads_survive_a_loop_thread_that_set_one():
    """torch starts new threads from the last count set; a decode loop sets 1 in its own."""
    import os
    import threading

    import torch

    before = torch.get_num_threads()
    seen: list[int] = []

    def loop_thread():
        torch.set_num_threads(1)

    def later_thread():
        seen.append(engine._intra_op_threads())

    try:
        for target in (loop_thread, later_thread):
            t = threading.Thread(target=target)
            t.start()
            t.join()
    finally:
        torch.set_num_threads(before)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if os.environ.get("OMP_NUM_THREADS") in (None, ""):
        assert seen == [cores]


def test_busy_cpu_share_is_a_share():
    busy = engine.busy_cpu_share(0.05)
    assert busy is None or 0.0 <= busy <= 1.0
    assert engine.few_rows_loops() in (1, None)


@pytest.mark.gpu
def test_cuda_engine_matches_transformers_in_float32():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from srllm.config import ModelSpec
    from srllm.models import EMBEDDED, load_model

    lm = load_model(ModelSpec(name="base", source=EMBEDDED, device="cuda", dtype="float32"))
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=1)
    fast = engine.generate_fast(lm, PROMPTS, cfg)
    ref = [generate(lm, [p], cfg, backend="transformers")[0] for p in PROMPTS]
    same = sum(f is not None and f.token_ids == r.token_ids for f, r in zip(fast, ref, strict=True))
    assert same == len(PROMPTS)


@pytest.mark.gpu
def test_cuda_engine_bfloat16_compiled_step_agrees_with_transformers():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from srllm.models import load_model, resolve_model

    lm = load_model(resolve_model("base"))  # bfloat16 on CUDA
    cfg = GenerationConfig(max_new_tokens=8, batch_size=1)
    fast = engine.generate_fast(lm, PROMPTS, cfg)
    ref = [generate(lm, [p], cfg, backend="transformers")[0] for p in PROMPTS]
    assert all(f is not None and f.n_tokens > 0 for f in fast)
    assert not engine.engine_for(lm)._compile_failed
    # bfloat16 rounds differently in a batch; the first tokens must still agree
    first = sum(f.token_ids[:2] == r.token_ids[:2] for f, r in zip(fast, ref, strict=True))
    assert first >= 0.8 * len(PROMPTS)


@pytest.mark.slow
def test_a_stop_raised_from_on_batch_leaves_no_decode_loop_running(base_model, monkeypatch):
    """An audit's Stop raises in on_batch: every decode loop ends, the next run is unharmed."""
    import threading

    monkeypatch.setenv(engine.ENV_WORKERS, "2")  # two decode loops in threads, as on 2 cores
    cfg = GenerationConfig(max_new_tokens=NEW, batch_size=2)
    prompts = PROMPTS[:6]
    before = engine.generate_fast(base_model, prompts, cfg, slots=2)

    def stop(idx, gens):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.generate_fast(base_model, prompts, cfg, slots=2, on_batch=stop)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("srllm-engine")]
    after = engine.generate_fast(base_model, prompts, cfg, slots=2)
    assert [g.token_ids for g in after] == [g.token_ids for g in before]
