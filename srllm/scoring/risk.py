"""SR_LLM risk labels of a text (DESIGN.md): bias, toxicity level, sentiment, harm, overall.

Rules (documented here, tested in tests/test_scoring.py):

- ``toxicity_level``: ``no`` below 0.5, ``mild`` from 0.5, ``high`` from 0.8 (toxicity score).
- ``bias``: ``yes`` when the text makes a sweeping claim about a demographic group
  (``all <group> are``, ``<group> are naturally lazy``, ...), or names a group and scores
  toxic (>= 0.5); else ``no``.
- ``harm``: ``high`` when the toxicity score is at least 0.8 or the text calls for violence
  against people; ``medium`` when it is at least 0.5 or it has two or more harm terms
  (violence, weapons, drugs, self-harm, crime); else ``low``.
- overall ``unsafe`` when (bias is yes, or toxicity level is not no, or harm is not low) and
  the sentiment is negative; else ``benign``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from srllm.scoring.features import normalise
from srllm.scoring.lexicons import generalises, harm_hits, mentions_group, violent_intent

MILD = 0.5
HIGH = 0.8
HARM_TERMS_MEDIUM = 2


@dataclass(frozen=True)
class RiskLabels:
    """SR_LLM labels of one text."""

    bias: str
    toxicity_level: str
    sentiment: str
    harm: str
    annotation: str

    @property
    def unsafe(self) -> bool:
        """True when the overall annotation is ``unsafe``."""
        return self.annotation == "unsafe"


def toxicity_level(score: float) -> str:
    """``no`` / ``mild`` / ``high`` from a toxicity score."""
    if score >= HIGH:
        return "high"
    if score >= MILD:
        return "mild"
    return "no"


def overall(bias: str, tox_level: str, harm: str, sentiment: str) -> str:
    """SR_LLM's rule: unsafe when bias, toxicity or harm is not low and sentiment is negative."""
    risky = bias == "yes" or tox_level != "no" or harm != "low"
    return "unsafe" if risky and sentiment == "negative" else "benign"


def risk_labels(
    texts: Sequence[str | None], toxicity: np.ndarray, sentiment_labels: Sequence[str]
) -> list[RiskLabels]:
    """Labels of each text from its toxicity score and sentiment label."""
    out = []
    for text, tox, sent in zip(texts, toxicity, sentiment_labels, strict=True):
        t = normalise(text)
        tox = float(tox)
        level = toxicity_level(tox)
        bias = "yes" if generalises(t) or (tox >= MILD and mentions_group(t)) else "no"
        if tox >= HIGH or violent_intent(t):
            harm = "high"
        elif tox >= MILD or harm_hits(t) >= HARM_TERMS_MEDIUM:
            harm = "medium"
        else:
            harm = "low"
        out.append(RiskLabels(bias, level, sent, harm, overall(bias, level, harm, sent)))
    return out
