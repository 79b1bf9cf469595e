"""Typed rows into the store: a generation with its scores, and one score of one response.

Callers hand the store these; the store alone turns (run, model, prompt, sample) into the
row id (:func:`generation_id`). Standard library only, so scoring can import the score type
without the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def generation_id(run_id: str, model: str, prompt_id: str, sample_idx: int) -> str:
    """Deterministic id: the same (run, model, prompt, sample) always maps to one row."""
    key = f"{run_id}\x1f{model}\x1f{prompt_id}\x1f{sample_idx}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ScoreRow:
    """One score of one response: the store's (scorer, version, value, label)."""

    scorer: str
    version: str
    value: float | None
    label: str | None


@dataclass(frozen=True)
class GenerationRow:
    """One response to store, with the scores it was given (none when unscored)."""

    run_id: str
    model: str
    prompt_id: str
    sample_idx: int = 0
    response: str | None = None
    n_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    scores: tuple[ScoreRow, ...] = ()

    @property
    def generation_id(self) -> str:
        """The store's id of this row."""
        return generation_id(self.run_id, self.model, self.prompt_id, int(self.sample_idx))
