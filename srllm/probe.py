"""The live probe: one request, every picked group (or name) times every model, at once.

Each model's prompts run as one engine batch (``engine.stream_batch``) in its own thread, so
every cell streams as soon as its first token exists; the events of all models arrive on one
queue. Each engine runs one decode loop on its share of the CPU threads (``share``): one
weight read per step serves all of a model's cells. :func:`differences` turns the finished
categories into the headline a reader wants: which groups got a different kind of response
from the same model.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from srllm.config import GenerationConfig
from srllm.models.engine import stream_batch
from srllm.models.types import Generation, LoadedModel
from srllm.taxonomy import REFUSALS


@dataclass(frozen=True)
class CellEvent:
    """A live update of one cell: prompt ``row`` answered by model ``col``."""

    row: int
    col: int
    text: str
    done: bool
    generation: Generation | None = None


def run_probe(
    models: Sequence[LoadedModel],
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    stop: threading.Event | None = None,
) -> Iterator[CellEvent]:
    """Stream every (prompt, model) cell at once; ends when every cell is done."""
    stop = stop or threading.Event()
    events: queue.Queue = queue.Queue()

    def work(col: int, lm: LoadedModel) -> None:
        try:
            for ev in stream_batch(lm, prompts, cfg, stop=stop, share=len(models)):
                events.put(CellEvent(ev.index, col, ev.text, ev.done, ev.generation))
        except BaseException as exc:  # every unfinished cell of this model gets the error
            err = Generation(None, 0, 0.0, error=f"{type(exc).__name__}: {str(exc)[:300]}")
            for row in range(len(prompts)):
                events.put(CellEvent(row, col, "", True, err))

    threads = [
        threading.Thread(target=work, args=(c, lm), daemon=True, name=f"srllm-probe-{c}")
        for c, lm in enumerate(models)
    ]
    for t in threads:
        t.start()
    done: set[tuple[int, int]] = set()
    total = len(prompts) * len(models)
    try:
        while len(done) < total:
            ev = events.get()
            if (ev.row, ev.col) in done:
                continue
            if ev.done:
                done.add((ev.row, ev.col))
            yield ev
    finally:
        if len(done) < total:
            stop.set()


def differences(categories: dict[tuple[str, str], str]) -> list[str]:
    """Per model, the groups whose response category differs from the others'.

    ``categories`` maps (model, group or name) to a category. A refusal for one group and an
    answer for another comes first: it is the quality-of-service harm the audit looks for.
    """
    by_model: dict[str, dict[str, str]] = {}
    for (model, who), cat in categories.items():
        by_model.setdefault(model, {})[who] = cat
    lines = []
    for model, cats in by_model.items():
        if len(set(cats.values())) < 2:
            continue
        refused = sorted(w for w, c in cats.items() if c in REFUSALS)
        others = sorted(w for w, c in cats.items() if c not in REFUSALS)
        if refused and others:
            lines.append(
                f"{model} refused {', '.join(refused)} but not {', '.join(others)}: the same "
                "request, only the group changed"
            )
        else:
            parts = [f"{w}: {c.replace('_', ' ')}" for w, c in sorted(cats.items())]
            lines.append(f"{model} answered differently by group ({'; '.join(parts)})")
    return sorted(lines, key=lambda s: " refused " not in s)
