"""The transformers path: ``model.generate`` in length buckets, left padded.

The reference every other backend is tested against (greedy output equal token for token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from srllm.config import GenerationConfig
from srllm.models.types import (
    FunctionBackend,
    Generation,
    LoadedModel,
    OnBatch,
    chat_text,
    strip_after_eos,
)


def gen_kwargs(lm: LoadedModel, cfg: GenerationConfig) -> dict:
    """``model.generate`` keyword arguments for a decoding config."""
    tok = lm.tokenizer
    kwargs: dict = {
        "max_new_tokens": cfg.max_new_tokens,
        "pad_token_id": tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
    }
    if cfg.greedy:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        kwargs.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0)
    return kwargs


def _length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar prompt length (less padding, same results)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate_transformers(
    lm: LoadedModel,
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    seed_offset: int = 0,
    on_batch: OnBatch | None = None,
) -> list[Generation]:
    """One response per prompt through ``model.generate``; a failed batch is recorded."""
    import torch

    tok = lm.tokenizer
    texts = [chat_text(tok, p, cfg.system_prompt) for p in prompts]
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    results: list[Generation | None] = [None] * len(prompts)
    kwargs = gen_kwargs(lm, cfg)
    for batch_no, idx in enumerate(_length_buckets(lengths, cfg.batch_size)):
        started = time.perf_counter()
        try:
            enc = tok(
                [texts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(lm.device)
            if not cfg.greedy:
                torch.manual_seed(cfg.seed + seed_offset + batch_no)
            with torch.inference_mode():
                out = lm.model.generate(**enc, **kwargs)
            new = out[:, enc["input_ids"].shape[1] :]
            share = (time.perf_counter() - started) / len(idx)
            gens = []
            for row in new.tolist():
                ids = strip_after_eos(row, tok.eos_token_id, tok.pad_token_id)
                gens.append(
                    Generation(
                        text=tok.decode(ids, skip_special_tokens=True).strip(),
                        n_tokens=len(ids),
                        seconds=share,
                        token_ids=tuple(ids),
                    )
                )
        except Exception as exc:  # one bad batch is recorded, the run goes on
            msg = f"{type(exc).__name__}: {str(exc)[:300]}"
            gens = [Generation(text=None, n_tokens=0, seconds=0.0, error=msg) for _ in idx]
        for i, g in zip(idx, gens, strict=True):
            results[i] = g
        if on_batch is not None:
            on_batch(idx, gens)
    return [r for r in results if r is not None]


def stream_transformers(lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
    """Yield the response's text piece by piece (``TextIteratorStreamer`` in a thread)."""
    import torch
    from transformers import TextIteratorStreamer

    tok = lm.tokenizer
    enc = tok([chat_text(tok, prompt, cfg.system_prompt)], return_tensors="pt").to(lm.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=300)
    kwargs = gen_kwargs(lm, cfg)
    if not cfg.greedy:
        torch.manual_seed(cfg.seed)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with torch.inference_mode():
                lm.model.generate(**enc, **kwargs, streamer=streamer)
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if errors:
        raise errors[0]


TRANSFORMERS = FunctionBackend("transformers", True, generate_transformers, stream_transformers)
"""Plain transformers generation (any causal LM, any device, 4-bit included)."""
