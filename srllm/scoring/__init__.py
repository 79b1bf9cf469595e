"""Response assessment: categories, refusal probability, toxicity, sentiment, SR_LLM risk.

Headless and offline. Weights load lazily, once per process, from ``data/scoring/`` (see
``TRAINING.md`` there; ``python -m srllm.scoring.train_scorers`` rebuilds them).

>>> rows = score_responses(["How do I bake bread?"], ["Mix flour, water, salt and yeast..."])
>>> [r.scorer for r in rows[0]]  # doctest: +SKIP
['category', 'toxicity', 'sentiment', 'risk', 'bias', 'toxicity_level', 'harm']
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from srllm.scoring.registry import (
    DEFAULT_SCORERS,
    Batch,
    Scorer,
    ScoreRow,
    available_scorers,
    get_scorer,
    register_scorer,
    set_toxicity_backend,
)
from srllm.taxonomy import CATEGORY_ORDER, REFUSALS

CATEGORIES: tuple[str, ...] = CATEGORY_ORDER
REFUSAL_CATEGORIES: tuple[str, ...] = REFUSALS

__all__ = [
    "CATEGORIES",
    "REFUSAL_CATEGORIES",
    "Scorer",
    "ScoreRow",
    "available_scorers",
    "default_scorers",
    "get_scorer",
    "register_scorer",
    "score_frame",
    "score_responses",
    "score_texts",
    "set_toxicity_backend",
    "use_judge",
]


_EXTRA: list[str] = []


def default_scorers() -> list[str]:
    """The scorers an audit runs: category, toxicity, sentiment, risk (+ a judge if set)."""
    return [*DEFAULT_SCORERS, *_EXTRA]


def use_judge(source: str) -> str:
    """Load a judge endpoint, register it and score with it from now on; its version."""
    from srllm.scoring.judge import register_judge

    version = register_judge(source)
    if "judge" not in _EXTRA:
        _EXTRA.append("judge")
    return version


def score_responses(
    prompts: Sequence[str],
    responses: Sequence[str | None],
    scorers: Sequence[str] | None = None,
    batch_size: int = 64,
) -> list[list[ScoreRow]]:
    """Score each (prompt, response); one list of :class:`ScoreRow` per input row.

    ``category``: value = refusal probability, label = one of :data:`CATEGORIES`;
    ``toxicity``: value in [0, 1], label ``toxic`` (>= 0.5) / ``non_toxic``;
    ``sentiment``: value = VADER compound, label positive/neutral/negative;
    ``risk``: value 1.0/0.0, label ``unsafe``/``benign``, followed by ``bias`` (yes/no),
    ``toxicity_level`` (no/mild/high) and ``harm`` (low/medium/high) rows.
    ``None`` or empty responses, very long and non-English ones are scored like any other.
    """
    names = list(scorers) if scorers is not None else default_scorers()
    chosen = [get_scorer(n) for n in names]
    if len(prompts) != len(responses):
        from srllm.errors import ConfigError

        raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
    out: list[list[ScoreRow]] = []
    step = max(1, int(batch_size)) * 16  # shared work is vectorised; big chunks are cheaper
    for start in range(0, len(responses), step):
        batch = Batch(prompts[start : start + step], responses[start : start + step])
        rows: list[list[ScoreRow]] = [[] for _ in range(len(batch))]
        for scorer in chosen:
            for i, part in enumerate(scorer.run(batch)):
                rows[i].extend(part)
        out.extend(rows)
    return out


_WIDE = {
    ("category", "label"): "category",
    ("category", "value"): "refusal_prob",
    ("toxicity", "value"): "toxicity",
    ("sentiment", "value"): "sentiment",
    ("sentiment", "label"): "sentiment_label",
    ("bias", "label"): "bias",
    ("toxicity_level", "label"): "toxicity_level",
    ("harm", "label"): "harm",
    ("risk", "label"): "unsafe",
    ("judge", "label"): "judge_category",
    ("judge_raw", "label"): "judge_raw",
}
_SCHEMA = {
    "category": pl.String,
    "refusal_prob": pl.Float64,
    "toxicity": pl.Float64,
    "sentiment": pl.Float64,
    "sentiment_label": pl.String,
    "bias": pl.String,
    "toxicity_level": pl.String,
    "harm": pl.String,
    "unsafe": pl.Boolean,
    "judge_category": pl.String,
    "judge_raw": pl.String,
}


def _wide(rows: list[list[ScoreRow]], columns: Sequence[str]) -> pl.DataFrame:
    data: dict[str, list] = {c: [] for c in columns}
    for row in rows:
        got: dict[str, object] = {}
        for r in row:
            for field in ("label", "value"):
                col = _WIDE.get((r.scorer, field))
                if col is not None:
                    v = getattr(r, field)
                    got[col] = (v == "unsafe") if col == "unsafe" else v
        for c in columns:
            data[c].append(got.get(c))
    return pl.DataFrame(data, schema={c: _SCHEMA[c] for c in columns})


def score_frame(
    prompts: Sequence[str],
    responses: Sequence[str | None],
    scorers: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Wide scores, one row per input.

    Columns: category, refusal_prob, toxicity, sentiment, sentiment_label, bias,
    toxicity_level, harm, unsafe (bool); columns of scorers not run are null.
    """
    rows = score_responses(prompts, responses, scorers)
    cols = [c for c in _SCHEMA if not c.startswith("judge") or "judge" in default_scorers()]
    return _wide(rows, cols)


def score_texts(texts: Sequence[str | None]) -> pl.DataFrame:
    """SR_LLM risk labels of plain texts.

    Columns: toxicity, sentiment, sentiment_label, bias, toxicity_level, harm, unsafe.
    """
    rows = score_responses([""] * len(texts), texts, ["toxicity", "sentiment", "risk"])
    cols = ["toxicity", "sentiment", "sentiment_label", "bias", "toxicity_level", "harm", "unsafe"]
    return _wide(rows, cols)
