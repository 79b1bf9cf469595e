"""Generation through a model's backend: one entry point for the pipeline and the pages.

``generate`` and ``stream`` hand the work to ``lm.backend`` (chosen once by ``load_model``);
``backend="transformers"`` / ``"fast"`` override the choice for a local model (the tests
compare the paths; ``SRLLM_ENGINE`` does the same for a whole process).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from srllm.config import GenerationConfig
from srllm.models.engine import choose_backend
from srllm.models.types import Backend, Generation, LoadedModel, OnBatch, chat_text

__all__ = ["Generation", "backend_for", "chat_text", "generate", "stream"]


def backend_for(lm: LoadedModel, requested: str | None = None) -> Backend:
    """The backend a call takes: an endpoint's own, else the local choice for ``requested``."""
    if lm.remote:
        return lm.backend  # type: ignore[return-value]
    return choose_backend(lm, requested)


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    seed_offset: int = 0,
    on_batch: OnBatch | None = None,
    backend: str | None = None,
) -> list[Generation]:
    """Generate one response per prompt; never raises for a single row.

    ``on_batch(indices, generations)`` is called as rows finish so callers can store results
    as they come (an interrupted run keeps what finished). ``backend``: ``auto`` (default, or
    ``SRLLM_ENGINE``) uses the fast engine for the models it supports and transformers'
    ``generate`` for the rest; ``transformers`` forces the transformers path; ``fast`` asks
    for the engine (transformers where it does not apply).
    """
    if not prompts:
        return []
    chosen = backend_for(lm, backend)
    return chosen.generate(lm, prompts, cfg, seed_offset=seed_offset, on_batch=on_batch)


def stream(lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
    """Yield the response's text piece by piece as it is generated (for the live page)."""
    yield from backend_for(lm).stream(lm, prompt, cfg)
