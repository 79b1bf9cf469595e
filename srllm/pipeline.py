"""Prompt set -> generate -> score -> store. Resumable: only missing rows are generated."""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from srllm.config import PROJECT_ROOT, ModelSpec, RunConfig
from srllm.errors import ConfigError, StoreError
from srllm.models import Generation, LoadedModel, backend_for, generate, load_model, resolve_model
from srllm.models.openai_backend import is_remote, parse_source
from srllm.prompts import PROMPT_COLUMNS, load_prompt_set, prompt_set_hash
from srllm.store import GenerationRow, ScoreRow, Store

log = logging.getLogger(__name__)

LIBRARIES = ("srllm", "torch", "transformers", "peft", "duckdb", "polars", "streamlit")


@dataclass
class Progress:
    """What a progress bar needs: overall done/total and the model being generated."""

    done: int
    total: int
    model: str
    stage: str = "generating"
    tokens: int = 0
    seconds: float = 0.0


@dataclass
class AuditResult:
    """Outcome of ``run_audit``."""

    run_id: str
    run_name: str
    added: int
    skipped: int
    errors: int
    seconds: float
    resumed: bool
    per_model: dict[str, int] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape results (stored with each run)."""
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def git_commit() -> str | None:
    """The project's git commit, with ``-dirty`` when tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(
                ["git", "-C", str(PROJECT_ROOT), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if not sha:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}-dirty" if dirty else sha


def _scorer() -> Callable[[list[str], list[str | None]], list[list[Any]]] | None:
    try:
        from srllm.scoring import score_responses
    except ImportError as exc:  # scoring weights or deps missing: keep generating
        log.warning("scoring unavailable (%s); responses are stored unscored", exc)
        return None
    return score_responses


def score_rows(prompts: list[str], responses: list[str | None]) -> list[tuple[ScoreRow, ...]]:
    """Scores of each (prompt, response), in order; empty tuples when scoring is unavailable."""
    scorer = _scorer()
    if scorer is None or not responses:
        return [() for _ in responses]
    return [tuple(rows) for rows in scorer(prompts, responses)]


def resolve_models(words: tuple[str, ...] | list[str]) -> list[ModelSpec]:
    """Resolve every model word before anything is written (a typo writes nothing)."""
    specs = [resolve_model(w) for w in words]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"two models share a name in {names}: label them NAME=SOURCE")
    return specs


def check_judge(source: str) -> str:
    """A judge word checked before anything loads: ``openai:URL#MODEL``, stripped.

    Raises ``ConfigError`` for anything but an OpenAI-compatible endpoint and the endpoint
    parser's ``ModelError`` for a malformed one (no URL, no model, not http(s)).
    """
    word = source.strip()
    if not is_remote(word):
        raise ConfigError(
            f"the judge must be an OpenAI-compatible endpoint, openai:URL#MODEL, not {source!r}"
        )
    parse_source(word)
    return word


FLUSH_ROWS = 32  # at most this many rows wait for a store transaction while generating


def run_audit(
    cfg: RunConfig,
    db: str | Path,
    *,
    progress: Callable[[Progress], None] | None = None,
    loader: Callable[[ModelSpec], LoadedModel] = load_model,
    should_stop: Callable[[], bool] | None = None,
) -> AuditResult:
    """Run (or resume) an audit and store every generation with its scores."""
    started = time.perf_counter()
    if cfg.judge and cfg.score:
        check_judge(cfg.judge)  # a mistyped judge is said before any model loads
    specs = resolve_models(cfg.models)
    prompts = load_prompt_set(cfg.prompts, limit=cfg.limit)
    if cfg.judge and cfg.score:
        from srllm.scoring import use_judge

        use_judge(cfg.judge)  # an unreachable judge fails here, before anything is written
    if prompts.height == 0:
        raise ConfigError("the prompt set is empty")
    phash = prompt_set_hash(prompts)
    store = Store(db)
    resumed = False
    existing = store.find_run(cfg.run_name) if cfg.run_name else None
    if existing is not None:
        if existing["prompt_set_hash"] != phash:
            raise StoreError(
                f"run {cfg.run_name!r} exists with a different prompt set; "
                "pick another --run-name to start a new run"
            )
        run_id, resumed = existing["run_id"], True
        store.set_run_status(run_id, "running")
    else:
        run_id = store.create_run(
            run_name=cfg.run_name,
            prompts=prompts,
            prompt_source=str(cfg.prompts),
            prompt_set_hash=phash,
            config=cfg.to_dict(),
            models=[{"name": s.name, "spec": s.to_dict()} for s in specs],
            git_commit=git_commit(),
            versions=library_versions(),
            seed=cfg.generation.seed,
        )
    run_name = store.require_run(run_id)["run_name"]
    todo: dict[str, list[tuple[str, int]]] = {}
    for spec in specs:
        done = store.done_keys(run_id, spec.name)
        todo[spec.name] = [
            (pid, k)
            for k in range(cfg.samples)
            for pid in prompts["prompt_id"].to_list()
            if (pid, k) not in done
        ]
    total = sum(len(v) for v in todo.values())
    skipped = len(specs) * prompts.height * cfg.samples - total
    text_of = dict(zip(prompts["prompt_id"].to_list(), prompts["prompt"].to_list(), strict=True))
    counters = {"done": 0, "added": 0, "errors": 0, "tokens": 0}
    per_model: dict[str, int] = {}
    fingerprints = []
    status: str | None = "interrupted"
    try:
        for spec in specs:
            keys = todo[spec.name]
            if not keys:
                per_model[spec.name] = 0
                continue
            if progress:
                progress(Progress(counters["done"], total, spec.name, stage="loading model"))
            lm = loader(spec)
            fingerprints.append({"name": spec.name, "fingerprint": lm.fingerprint})
            per_model[spec.name] = 0

            def report(name: str, rows: list[tuple[str, Generation]], added: int) -> None:
                counters["added"] += added
                per_model[name] += added
                counters["errors"] += sum(g.error is not None for _, g in rows)
                counters["done"] += len(rows)
                counters["tokens"] += sum(g.n_tokens for _, g in rows)
                if progress:
                    progress(
                        Progress(
                            counters["done"],
                            total,
                            name,
                            tokens=counters["tokens"],
                            seconds=time.perf_counter() - started,
                        )
                    )

            # Large chunks keep the engine's slots full; finished rows are stored (and
            # scored) as they come, in transactions of at least FLUSH_ROWS rows, so a killed
            # run loses at most the rows not yet flushed.
            chunk = backend_for(lm).chunk_size(cfg.generation.batch_size)
            for sample_idx in range(cfg.samples):
                pids = [pid for pid, k in keys if k == sample_idx]
                for start in range(0, len(pids), chunk):
                    if should_stop and should_stop():
                        raise KeyboardInterrupt
                    part = pids[start : start + chunk]
                    sink = _Sink(
                        store,
                        run_id,
                        spec.name,
                        sample_idx,
                        part,
                        text_of,
                        cfg.score,
                        report,
                        every=min(FLUSH_ROWS, cfg.generation.batch_size),
                    )

                    def on_batch(idx: list[int], gens: list[Generation], sink=sink) -> None:
                        sink.add(idx, gens)
                        if should_stop and should_stop():
                            raise KeyboardInterrupt

                    generate(
                        lm,
                        [text_of[p] for p in part],
                        cfg.generation,
                        seed_offset=sample_idx * 1_000_003 + start,
                        on_batch=on_batch,
                    )
                    sink.flush()
        status = "finished"
    except Exception:
        status = "failed"
        if not resumed and _nothing_stored(store, run_id, specs):
            # A new run that failed before its first row (a model that does not load, say)
            # leaves the store as it was: no empty "failed" run behind a one-line error.
            try:
                store.delete_run(run_id)
                status = None
            except StoreError:
                log.warning("could not remove the empty run %s", run_id)
        raise
    finally:
        try:
            if status is not None:
                store.set_run_status(run_id, status)
        except StoreError:  # never mask the original problem
            log.warning("could not record run status %s", status)
    return AuditResult(
        run_id=run_id,
        run_name=run_name,
        added=counters["added"],
        skipped=skipped,
        errors=counters["errors"],
        seconds=time.perf_counter() - started,
        resumed=resumed,
        per_model=per_model,
    )


def _nothing_stored(store: Store, run_id: str, specs: list[ModelSpec]) -> bool:
    try:
        return not any(store.done_keys(run_id, s.name) for s in specs)
    except StoreError:
        return False


class _Sink:
    """Collects finished rows of one chunk; stores (and scores) them every ``every`` rows."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        model: str,
        sample_idx: int,
        pids: list[str],
        text_of: dict[str, str],
        score: bool,
        report: Callable[[str, list[tuple[str, Generation]], int], None],
        every: int,
    ) -> None:
        self.store, self.run_id, self.model, self.sample_idx = store, run_id, model, sample_idx
        self.pids, self.text_of, self.score, self.report = pids, text_of, score, report
        self.pending: list[tuple[str, Generation]] = []
        self.every = every

    def add(self, idx: list[int], gens: list[Generation]) -> None:
        self.pending.extend((self.pids[i], g) for i, g in zip(idx, gens, strict=True))
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        added = _store_batch(
            self.store,
            self.run_id,
            self.model,
            self.sample_idx,
            [p for p, _ in rows],
            [g for _, g in rows],
            self.text_of,
            score=self.score,
        )
        self.report(self.model, rows, added)


def _row(
    run_id: str, model: str, pid: str, k: int, g: Generation, scores: tuple[ScoreRow, ...]
) -> GenerationRow:
    """The store's row for one generation of (run, model, prompt, sample ``k``)."""
    return GenerationRow(run_id, model, pid, k, g.text, g.n_tokens, g.seconds, g.error, scores)


def _store_batch(
    store: Store,
    run_id: str,
    model: str,
    sample_idx: int,
    pids: list[str],
    gens: list[Generation],
    text_of: dict[str, str],
    *,
    score: bool,
) -> int:
    scores = iter(
        score_rows(
            [text_of[pid] for pid, g in zip(pids, gens, strict=True) if g.error is None],
            [g.text for g in gens if g.error is None],
        )
        if score
        else ()
    )
    rows = [
        _row(run_id, model, pid, sample_idx, g, next(scores) if score and g.error is None else ())
        for pid, g in zip(pids, gens, strict=True)
    ]
    return store.add_generations(rows)


def score_run(store: Store, run_id: str, *, batch: int = 256) -> int:
    """Score stored generations of a run that lack the current scorer versions."""
    try:
        from srllm.scoring import score_responses
    except ImportError as exc:
        raise ConfigError(f"scoring is unavailable: {exc}") from exc
    probe = score_responses(["hello"], ["hello"])[0]
    missing = pl.concat([store.unscored(run_id, r.scorer, r.version) for r in probe]).unique(
        "generation_id"
    )
    n = 0
    for start in range(0, missing.height, batch):
        part = missing.slice(start, batch)
        scored = score_rows(part["prompt"].to_list(), part["response"].to_list())
        store.add_scores(
            [
                (gid, s)
                for gid, rows in zip(part["generation_id"].to_list(), scored, strict=True)
                for s in rows
            ]
        )
        n += part.height
    return n


LIVE_RUN = "live-probe"


def live_run_id(store: Store) -> str:
    """The run that collects live probes (created on first use)."""
    found = store.find_run(LIVE_RUN)
    if found is not None:
        return str(found["run_id"])
    empty = pl.DataFrame(schema={c: pl.String for c in PROMPT_COLUMNS})
    try:
        run_id = store.create_run(
            run_name=LIVE_RUN,
            prompts=empty,
            prompt_source="live",
            prompt_set_hash="live",
            config={"kind": "live probe"},
            models=[],
            git_commit=git_commit(),
            versions=library_versions(),
            seed=0,
        )
        store.set_run_status(run_id, "live")
        return run_id
    except StoreError:  # another session created it at the same moment
        return str(store.require_run(LIVE_RUN)["run_id"])


def record_live(
    store: Store, prompt_row: dict[str, str | None], model: str, gen: Generation
) -> tuple[str, tuple[ScoreRow, ...]]:
    """Store one live-probe response with its scores; returns (generation_id, scores)."""
    run_id = live_run_id(store)
    store.add_prompts(
        run_id, pl.DataFrame([prompt_row], schema={c: pl.String for c in PROMPT_COLUMNS})
    )
    pid = str(prompt_row["prompt_id"])
    scores = () if gen.error else score_rows([str(prompt_row["prompt"])], [gen.text])[0]
    row = _row(run_id, model, pid, store.next_sample_idx(run_id, model, pid), gen, scores)
    store.add_generations([row])
    return row.generation_id, scores
