"""The one builder of synthetic runs in real DuckDB stores, for tests.

``synthetic_prompts`` makes a prompt table; ``build_store`` writes a run of it with the
answers, scores and human labels a test gives. Tests decide the values; this writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from srllm.prompts import PROMPT_COLUMNS
from srllm.store import GenerationRow, ScoreRow, Store, generation_id

# What an answer is unless it says otherwise.
ANSWER_DEFAULTS: dict[str, Any] = {
    "sample_idx": 0,
    "response": "ok",
    "n_tokens": 1,
    "seconds": 0.1,
    "error": None,
}


def synthetic_prompts(
    pairs: Iterable[tuple[str, str]],
    *,
    prompt_id: str = "{t}:{g}",
    text: str = "Help my {g} friend ({t}).",
    axis: str = "demo",
    kind: str = "qos",
) -> pl.DataFrame:
    """One prompt per ``(template_id, group)`` pair, in their order.

    ``prompt_id`` and ``text`` are format strings over ``t`` (the template id), ``g`` (the
    group), ``n`` (the template's number: its place among the distinct templates) and ``i``
    (the prompt's place in the table).
    """
    numbers: dict[str, int] = {}
    rows = []
    for i, (t, g) in enumerate(pairs):
        n = numbers.setdefault(t, len(numbers))
        rows.append(
            {
                "prompt_id": prompt_id.format(t=t, g=g, n=n, i=i),
                "template_id": t,
                "axis": axis,
                "group": g,
                "name": None,
                "kind": kind,
                "prompt": text.format(t=t, g=g, n=n, i=i),
            }
        )
    return pl.DataFrame(rows, schema={c: pl.String for c in PROMPT_COLUMNS})


def build_store(
    db: str | Path | Store,
    answers: Iterable[Mapping[str, Any]] = (),
    *,
    prompts: pl.DataFrame,
    run_name: str = "r",
    source: str = "synthetic",
    prompt_set_hash: str = "h",
    models: Sequence[str] = (),
    seed: int = 0,
    scored: bool = True,
    score_version: str = "t",
    labels: Iterable[tuple[str, ...]] = (),
    finished: bool = False,
) -> str:
    """Write one run of ``prompts`` and ``answers`` to a store (a path or a ``Store``).

    Each answer names its ``model`` and ``prompt_id`` and may set any generation column
    (see ``ANSWER_DEFAULTS``; ``error`` with ``response=None`` is a failed row) and
    ``scores``: ``{scorer: value}`` or ``{scorer: (value, label)}``, stored as
    ``score_version`` unless ``scored`` is false. ``labels`` are human labels as
    ``(model, prompt_id, annotator, category)`` of sample 0, optionally with a fifth item,
    the annotator's toxic judgement (``True``/``False``; ``None``: not judged). ``models``
    are the model names recorded with the run. Returns the run id.
    """
    store = db if isinstance(db, Store) else Store(db)
    run_id = store.create_run(
        run_name=run_name,
        prompts=prompts,
        prompt_source=source,
        prompt_set_hash=prompt_set_hash,
        config={},
        models=[{"name": m} for m in models],
        git_commit=None,
        versions={},
        seed=seed,
    )
    gens = []
    for answer in answers:
        row = {**ANSWER_DEFAULTS, **answer, "run_id": run_id}
        by_scorer = row.pop("scores", None) or {}
        scores = tuple(
            ScoreRow(scorer, score_version, *(got if isinstance(got, tuple) else (got, None)))
            for scorer, got in by_scorer.items()
        )
        gens.append(GenerationRow(**row, scores=scores if scored else ()))
    store.add_generations(gens)
    for model, pid, annotator, category, *toxic in labels:
        gid = generation_id(run_id, model, pid, 0)
        store.add_label(gid, annotator, category, toxic=toxic[0] if toxic else None)
    if finished:
        store.set_run_status(run_id, "finished")
    return run_id
