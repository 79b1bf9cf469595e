"""Scorers registered by name with a version string, and the batch they share.

A scorer turns a :class:`Batch` (prompts, responses and lazily computed shared work: the
word-piece vectors, toxicity, sentiment) into one list of :class:`ScoreRow` per response. The
version changes whenever the weights, the backend or the rules change, so the store can tell
which rows need re-scoring.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from srllm.errors import ConfigError
from srllm.scoring.classifier import Classified
from srllm.scoring.embed import TOX_POOL, get_encoder
from srllm.scoring.recipe import (
    PROMPT_TOKENS,
    RESPONSE_TOKENS,
    TOX_TOKENS,
    context_pooled,
    score_toxicity,
)
from srllm.scoring.risk import RiskLabels, risk_labels
from srllm.scoring.sentiment import VERSION as SENTIMENT_VERSION
from srllm.scoring.sentiment import compound_scores, sentiment_label
from srllm.scoring.text import prepare
from srllm.scoring.toxicity import (
    BuiltinToxicity,
    DetoxifyToxicity,
    HFToxicity,
    OpenAIModeration,
    PerspectiveToxicity,
    ToxicityBackend,
)
from srllm.scoring.weights import (
    CACHE,
    LOCK,
    RULES_VERSION,
    builtin_toxicity,
    response_classifier,
)
from srllm.store.rows import ScoreRow
from srllm.taxonomy import toxic_label


def make_toxicity(spec: str) -> ToxicityBackend:
    """Build a backend from a spec.

    Specs: ``builtin``, ``hf:PATH``, ``detoxify:PATH``, ``perspective``, ``openai``.
    """
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "builtin":
        return builtin_toxicity()
    if kind == "hf":
        if not arg:
            raise ConfigError("hf toxicity needs a directory: hf:/path/to/model")
        return HFToxicity(arg)
    if kind == "detoxify":
        if not arg:
            raise ConfigError("detoxify toxicity needs a checkpoint: detoxify:/path/to/file.ckpt")
        return DetoxifyToxicity(arg)
    if kind == "perspective":
        return PerspectiveToxicity()
    if kind == "openai":
        return OpenAIModeration()
    raise ConfigError(
        f"unknown toxicity backend {spec!r}: use builtin, hf:PATH, detoxify:PATH, "
        "perspective or openai"
    )


_TOXICITY_SPEC = os.environ.get("SRLLM_TOXICITY", "builtin")


def set_toxicity_backend(spec: str) -> None:
    """Choose the toxicity backend for this process (see :func:`toxicity.make_toxicity`)."""
    global _TOXICITY_SPEC
    backend = make_toxicity(spec)  # fails here, with a clear error, if misconfigured
    with LOCK:
        CACHE[f"backend:{spec}"] = backend
        _TOXICITY_SPEC = spec


def toxicity_backend() -> ToxicityBackend:
    """The configured toxicity backend (``builtin`` unless changed)."""
    spec = _TOXICITY_SPEC
    with LOCK:
        key = f"backend:{spec}"
        if key not in CACHE:
            CACHE[key] = make_toxicity(spec)
        return CACHE[key]  # type: ignore[return-value]


class Batch:
    """Prompts and responses plus the work every scorer shares, computed once on demand."""

    def __init__(self, prompts: Sequence[str | None], responses: Sequence[str | None]) -> None:
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
        self.prompts = [p if isinstance(p, str) else "" for p in prompts]
        self.responses = [r if isinstance(r, str) else None for r in responses]

    def __len__(self) -> int:
        return len(self.responses)

    @cached_property
    def vectors(self) -> np.ndarray:
        """Word-piece vectors of the responses."""
        return get_encoder().encode(self.responses).vectors

    @cached_property
    def prompt_vectors(self) -> np.ndarray:
        """Word-piece vectors of the prompts."""
        return get_encoder().encode(self.prompts).vectors

    @cached_property
    def toxicity_backend(self) -> ToxicityBackend:
        """The backend used for this batch."""
        return toxicity_backend()

    @cached_property
    def prepared(self) -> list[str]:
        """Responses as the learned scorers read them (de-obfuscated, identities masked)."""
        return [prepare(r) for r in self.responses]

    @cached_property
    def pooled(self) -> np.ndarray:
        """Every pooling of one encoder pass over the prepared responses (n, poolings, 384)."""
        return context_pooled(self.prepared, RESPONSE_TOKENS)

    @cached_property
    def prompt_pooled(self) -> np.ndarray:
        """Every pooling of one encoder pass over the prepared prompts."""
        return context_pooled([prepare(p) for p in self.prompts], PROMPT_TOKENS)

    @property
    def context(self) -> np.ndarray:
        """The toxicity model's vectors of the prepared responses (from the shared pass)."""
        return self.pooled[:, TOX_POOL]

    @property
    def prompt_context(self) -> np.ndarray:
        """The toxicity model's vectors of the prepared prompts."""
        return self.prompt_pooled[:, TOX_POOL]

    @cached_property
    def builtin_toxicity(self) -> np.ndarray:
        """The built-in toxicity of each response (a feature of the classifier)."""
        tox = builtin_toxicity()
        if RESPONSE_TOKENS == TOX_TOKENS:
            return score_toxicity(tox.model, self.responses, self.context)
        return tox.score(self.responses)

    @cached_property
    def prompt_toxicity(self) -> np.ndarray:
        """The built-in toxicity of each prompt (a feature of the classifier)."""
        tox = builtin_toxicity()
        if PROMPT_TOKENS == TOX_TOKENS:
            return score_toxicity(tox.model, self.prompts, self.prompt_context)
        return tox.score(self.prompts)

    @cached_property
    def toxicity(self) -> np.ndarray:
        """Toxicity score of each response from the configured backend, in [0, 1]."""
        backend = self.toxicity_backend
        if isinstance(backend, BuiltinToxicity):
            return self.builtin_toxicity
        vecs = self.vectors if backend.uses_embeddings else None
        return np.clip(np.asarray(backend.score(self.responses, vecs), dtype=float), 0.0, 1.0)

    @cached_property
    def compound(self) -> np.ndarray:
        """VADER compound score of each response."""
        return compound_scores(self.responses)

    @cached_property
    def sentiment_labels(self) -> list[str]:
        """Positive / neutral / negative per response."""
        return [sentiment_label(c) for c in self.compound]

    @cached_property
    def classified(self) -> Classified:
        """Six-category classification of the responses."""
        clf, _ = response_classifier()
        return clf.classify(
            self.prompts,
            self.responses,
            self.pooled,
            self.prompt_pooled,
            self.builtin_toxicity,
            self.prompt_toxicity,
        )

    @cached_property
    def risk(self) -> list[RiskLabels]:
        """SR_LLM risk labels of each response."""
        return risk_labels(self.responses, self.toxicity, self.sentiment_labels)


@dataclass(frozen=True)
class Scorer:
    """A named scorer: ``version()`` is cheap after the first call; ``run`` scores a batch."""

    name: str
    version: Callable[[], str]
    run: Callable[[Batch], list[list[ScoreRow]]]
    help: str = ""


_REGISTRY: dict[str, Scorer] = {}


def register_scorer(scorer: Scorer, *, replace: bool = False) -> None:
    """Add a scorer under its name (``replace=True`` to swap an existing one)."""
    with LOCK:
        if scorer.name in _REGISTRY and not replace:
            raise ConfigError(f"a scorer named {scorer.name!r} is already registered")
        _REGISTRY[scorer.name] = scorer


def get_scorer(name: str) -> Scorer:
    """The scorer registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"unknown scorer {name!r}; known: {known}") from None


def available_scorers() -> list[str]:
    """Names of every registered scorer."""
    return sorted(_REGISTRY)


def _tox_version() -> str:
    return toxicity_backend().version


def _category_version() -> str:
    return f"{response_classifier()[1]}.tox-{builtin_toxicity().version}"


def _run_category(b: Batch) -> list[list[ScoreRow]]:
    c = b.classified
    v = _category_version()
    return [
        [ScoreRow("category", v, float(p), cat)]
        for cat, p in zip(c.categories, c.refusal_prob, strict=True)
    ]


def _run_toxicity(b: Batch) -> list[list[ScoreRow]]:
    v = _tox_version()
    return [[ScoreRow("toxicity", v, float(t), toxic_label(t))] for t in b.toxicity]


def _run_sentiment(b: Batch) -> list[list[ScoreRow]]:
    return [
        [ScoreRow("sentiment", SENTIMENT_VERSION, float(c), lab)]
        for c, lab in zip(b.compound, b.sentiment_labels, strict=True)
    ]


def _risk_version() -> str:
    return f"{RULES_VERSION}.tox-{_tox_version()}.{SENTIMENT_VERSION}"


def _run_risk(b: Batch) -> list[list[ScoreRow]]:
    v = _risk_version()
    out = []
    for r in b.risk:
        out.append(
            [
                ScoreRow("risk", v, 1.0 if r.unsafe else 0.0, r.annotation),
                ScoreRow("bias", v, None, r.bias),
                ScoreRow("toxicity_level", v, None, r.toxicity_level),
                ScoreRow("harm", v, None, r.harm),
            ]
        )
    return out


for _s in (
    Scorer("category", _category_version, _run_category, "six response categories"),
    Scorer("toxicity", _tox_version, _run_toxicity, "toxicity score in [0, 1]"),
    Scorer("sentiment", lambda: SENTIMENT_VERSION, _run_sentiment, "VADER compound"),
    Scorer("risk", _risk_version, _run_risk, "SR_LLM bias/toxicity/harm/overall labels"),
):
    register_scorer(_s)

DEFAULT_SCORERS: tuple[str, ...] = ("category", "toxicity", "sentiment", "risk")
