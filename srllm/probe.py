"""The live probe: one request, every picked group (or name) times every model, at once.

A base model and its LoRA adapters (the tuned model) run as one engine batch
(``engine.stream_joint``): each adapter row adds its LoRA to the shared projections, so one
weight read per step serves every cell of every such model. Models that cannot join (another
base, a remote endpoint) run their own batch in their own thread, each engine one decode
loop on its share of the CPU threads (``share``). Every cell streams as soon as its first
token exists; the events of all batches arrive on one queue. :func:`differences` turns the finished
categories into the headline a reader wants: which groups got a different kind of response
from the same model.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from srllm.config import GenerationConfig
from srllm.models.engine import few_rows_loops, joinable, stream_batch, stream_joint
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

    groups = batches(models)
    n = len(prompts)
    loops = few_rows_loops() if len(groups) == 1 else 1

    def work(cols: list[int]) -> None:
        kw = {"stop": stop, "share": len(groups), "loops": loops}
        try:
            lms = [models[c] for c in cols]
            if len(lms) == 1:
                it = stream_batch(lms[0], prompts, cfg, **kw)
            else:
                it = stream_joint(lms, prompts, cfg, **kw)
            for ev in it:
                col = cols[ev.index // n]
                events.put(CellEvent(ev.index % n, col, ev.text, ev.done, ev.generation))
        except BaseException as exc:  # every unfinished cell of these models gets the error
            err = Generation(None, 0, 0.0, error=f"{type(exc).__name__}: {str(exc)[:300]}")
            for col in cols:
                for row in range(n):
                    events.put(CellEvent(row, col, "", True, err))

    threads = [
        threading.Thread(target=work, args=(g,), daemon=True, name=f"srllm-probe-{g[0]}")
        for g in groups
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


def batches(models: Sequence[LoadedModel]) -> list[list[int]]:
    """Columns that run as one engine batch: a base model with the adapters on its weights."""
    left = list(range(len(models)))
    groups = []
    while left:
        host = left.pop(0)
        mates = [c for c in left if joinable(models[host], models[c])]
        if not mates:  # an adapter listed before its base: the base hosts
            hosts = [c for c in left if joinable(models[c], models[host])]
            if hosts:
                left.insert(0, host)
                host = hosts[0]
                left.remove(host)
                mates = [c for c in left if joinable(models[host], models[c])]
        left = [c for c in left if c not in mates]
        groups.append([host, *mates])
    return groups


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
