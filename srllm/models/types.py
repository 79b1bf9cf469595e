"""Value types every generation backend shares (imports no other module of this package).

A :class:`LoadedModel` carries its :class:`Backend`, chosen once by ``load_model``: the
transformers path, the fast engine (``engine.py``) or an OpenAI-compatible endpoint
(``openai_backend.py``). Adding a backend is one new module that implements the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from srllm.config import GenerationConfig, ModelSpec


@dataclass(frozen=True)
class Generation:
    """One response: text, token count, seconds spent (share of its batch) and any error."""

    text: str | None
    n_tokens: int
    seconds: float
    error: str | None = None
    token_ids: tuple[int, ...] = ()


OnBatch = Callable[[list[int], list[Generation]], None]


class Backend(Protocol):
    """How a loaded model generates."""

    name: str  # "transformers", "fast" or "remote"
    local: bool  # runs torch weights in this process

    def generate(
        self,
        lm: LoadedModel,
        prompts: Sequence[str],
        cfg: GenerationConfig,
        *,
        seed_offset: int = 0,
        on_batch: OnBatch | None = None,
    ) -> list[Generation]:
        """One response per prompt; never raises for a single row."""
        ...

    def stream(self, lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
        """The response's text piece by piece."""
        ...

    def chunk_size(self, batch_size: int) -> int:
        """How many prompts the pipeline should hand over at once."""
        ...


@dataclass(frozen=True)
class FunctionBackend:
    """A :class:`Backend` made of two functions (a backend with no state of its own).

    ``chunk_size`` hands the pipeline a few batches at a time (at least 32 prompts), so rows
    are stored as each batch finishes and concurrent requests stay busy.
    """

    name: str
    local: bool
    generate_fn: Callable[..., list[Generation]]
    stream_fn: Callable[[LoadedModel, str, GenerationConfig], Iterator[str]]

    def generate(self, lm, prompts, cfg, *, seed_offset=0, on_batch=None) -> list[Generation]:
        """``generate_fn`` (one response per prompt; never raises for a single row)."""
        return self.generate_fn(lm, prompts, cfg, seed_offset=seed_offset, on_batch=on_batch)

    def stream(self, lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
        """``stream_fn``: the response's text piece by piece."""
        return self.stream_fn(lm, prompt, cfg)

    def chunk_size(self, batch_size: int) -> int:
        """A few batches at a time."""
        return max(batch_size * 4, 32)


@dataclass
class LoadedModel:
    """A model ready to generate: weights (or a client), tokenizer, backend and provenance."""

    spec: ModelSpec
    model: Any
    tokenizer: Any
    device: str
    load_seconds: float
    fingerprint: dict[str, Any] = field(default_factory=dict)
    backend: Backend | None = None

    @property
    def remote(self) -> bool:
        """True for an endpoint (no local weights)."""
        return self.backend is not None and not self.backend.local


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


def strip_after_eos(ids: list[int], eos: int | list[int] | None, pad: int | None) -> list[int]:
    """Token ids up to the first end-of-sequence token, trailing padding removed."""
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
