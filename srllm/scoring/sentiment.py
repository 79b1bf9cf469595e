"""Sentiment with VADER: compound in [-1, 1] and the standard +-0.05 labels.

VADER's cost grows with the square of a text's length, and its authors score paragraphs
sentence by sentence. Texts up to ``CHUNK_CHARS`` are scored whole; longer ones (first
``MAX_CHARS`` characters) are cut at sentence ends into chunks of about ``CHUNK_CHARS`` and the
chunks' compounds averaged, weighted by length.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

from srllm.scoring.embed import clip

POSITIVE = 0.05
NEGATIVE = -0.05
MAX_CHARS = 5000
CHUNK_CHARS = 600
_SENT_END = re.compile(r"(?<=[.!?])\s+|\n+")
VERSION = "vader-3.3.2"

_LOCK = threading.Lock()
_ANALYZER = None


def _analyzer():
    global _ANALYZER
    with _LOCK:
        if _ANALYZER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _ANALYZER = SentimentIntensityAnalyzer()
        return _ANALYZER


def sentiment_label(compound: float) -> str:
    """``positive`` at or above 0.05, ``negative`` at or below -0.05, else ``neutral``."""
    if compound >= POSITIVE:
        return "positive"
    if compound <= NEGATIVE:
        return "negative"
    return "neutral"


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for part in _SENT_END.split(text):
        if not part.strip():
            continue
        while len(part) > CHUNK_CHARS:  # one very long "sentence"
            out.append(part[:CHUNK_CHARS])
            part = part[CHUNK_CHARS:]
        if cur and len(cur) + len(part) + 1 > CHUNK_CHARS:
            out.append(cur)
            cur = part
        else:
            cur = f"{cur} {part}" if cur else part
    if cur.strip():
        out.append(cur)
    return out


def compound(text: str | None) -> float:
    """VADER compound of one text (chunked when long, see the module docstring)."""
    t = clip(text, MAX_CHARS)
    if not t.strip():
        return 0.0
    sia = _analyzer()
    if len(t) <= CHUNK_CHARS:
        return float(sia.polarity_scores(t)["compound"])
    parts = _chunks(t)
    weights = np.array([len(p) for p in parts], dtype=float)
    scores = np.array([sia.polarity_scores(p)["compound"] for p in parts], dtype=float)
    return float((scores * weights).sum() / weights.sum())


def compound_scores(texts: Sequence[str | None]) -> np.ndarray:
    """VADER compound score of each text (empty or ``None`` -> 0.0)."""
    return np.array([compound(t) for t in texts], dtype=float)
