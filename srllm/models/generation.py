"""Batched and streamed generation with the model's chat template and left padding."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from srllm.config import GenerationConfig
from srllm.models.loading import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """One response: text, token count, seconds spent (share of its batch) and any error."""

    text: str | None
    n_tokens: int
    seconds: float
    error: str | None = None
    token_ids: tuple[int, ...] = ()


def chat_text(tokenizer: object, prompt: str, system: str | None = None) -> str:
    """The prompt wrapped in the model's chat template, ready for the assistant's turn."""
    messages = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(  # type: ignore[attr-defined]
            messages, tokenize=False, add_generation_prompt=True
        )
    return (f"{system}\n\n" if system else "") + f"User: {prompt}\nAssistant:"


def _gen_kwargs(lm: LoadedModel, cfg: GenerationConfig) -> dict:
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


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    seed_offset: int = 0,
    on_batch: Callable[[list[int], list[Generation]], None] | None = None,
    backend: str | None = None,
) -> list[Generation]:
    """Generate one response per prompt, batched by length; never raises for a single row.

    ``on_batch(indices, generations)`` is called after every batch so callers can store
    results as they come (an interrupted run keeps what finished).

    ``backend``: ``auto`` (default, or ``SRLLM_ENGINE``) uses the fast engine
    (``srllm.models.engine``) for the models it supports and transformers' ``generate`` for
    the rest; ``transformers`` forces the transformers path (the reference the engine is
    tested against); ``fast`` asks for the engine (transformers where it does not apply).
    """
    if lm.device == "remote":  # an OpenAI-compatible endpoint
        from srllm.models.openai_backend import generate_remote

        return generate_remote(lm, prompts, cfg, seed_offset=seed_offset, on_batch=on_batch)
    from srllm.models import engine

    if engine.backend_choice(backend) != "transformers" and prompts:
        reason = engine.unsupported_reason(lm)
        if reason is None:
            return _generate_with_engine(lm, prompts, cfg, seed_offset, on_batch)
        if engine.backend_choice(backend) == "fast":
            log.warning("fast engine not used for %s: %s", lm.spec.name, reason)
    import torch

    tok = lm.tokenizer
    texts = [chat_text(tok, p, cfg.system_prompt) for p in prompts]
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    results: list[Generation | None] = [None] * len(prompts)
    kwargs = _gen_kwargs(lm, cfg)
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
                ids = _strip_after_eos(row, tok.eos_token_id, tok.pad_token_id)
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


def _generate_with_engine(
    lm: LoadedModel,
    prompts: Sequence[str],
    cfg: GenerationConfig,
    seed_offset: int,
    on_batch: Callable[[list[int], list[Generation]], None] | None,
) -> list[Generation]:
    """The engine's results; rows it could not finish go through the transformers path."""
    from srllm.models.engine import generate_fast

    results = generate_fast(lm, prompts, cfg, seed_offset=seed_offset, on_batch=on_batch)
    missing = [i for i, g in enumerate(results) if g is None]
    if missing:

        def remap(idx: list[int], gens: list[Generation]) -> None:
            if on_batch is not None:
                on_batch([missing[j] for j in idx], gens)

        rest = generate(
            lm,
            [prompts[i] for i in missing],
            cfg,
            seed_offset=seed_offset,
            on_batch=remap,
            backend="transformers",
        )
        for i, g in zip(missing, rest, strict=True):
            results[i] = g
    return [r for r in results if r is not None]


def _strip_after_eos(ids: list[int], eos: int | list[int] | None, pad: int | None) -> list[int]:
    stops = set(eos if isinstance(eos, list) else [eos]) - {None}
    out = []
    for t in ids:
        if t in stops:
            break
        out.append(t)
    if pad is not None and pad not in stops:
        while out and out[-1] == pad:
            out.pop()
    return out


def stream(lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
    """Yield the response's text piece by piece as it is generated (for the live page)."""
    if lm.device == "remote":  # an OpenAI-compatible endpoint (server-sent events)
        from srllm.models.openai_backend import stream_remote

        yield from stream_remote(lm, prompt, cfg)
        return
    import torch
    from transformers import TextIteratorStreamer

    tok = lm.tokenizer
    enc = tok([chat_text(tok, prompt, cfg.system_prompt)], return_tensors="pt").to(lm.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=300)
    kwargs = _gen_kwargs(lm, cfg)
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
