"""Score StereoSet items with one loaded model and turn the scores into metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from srllm.config import sha256_file
from srllm.stereoset.data import SCORE_COLUMNS, SENTENCE_COLUMNS
from srllm.stereoset.lm import Conditioning, Packing, score_sentences, start_token_id
from srllm.stereoset.metrics import CI_METHOD, intrasentence_metrics


@dataclass
class StereoSetResult:
    """One model's StereoSet intrasentence evaluation."""

    model: str
    metrics: list[dict[str, Any]]
    items: pl.DataFrame = field(repr=False)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_sentences(self) -> int:
        """Sentences scored (three per item)."""
        return 3 * self.items.height

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-domain figures keyed by domain, plus timing and fingerprint."""
        return {
            "n_items": self.items.height,
            "seconds": round(self.seconds, 3),
            "domains": {
                row["domain"]: {k: v for k, v in row.items() if k != "domain"}
                for row in self.metrics
            },
            "bootstrap_ci": {
                k: self.fingerprint.get("stereoset", {}).get(k)
                for k in ("ci_method", "ci_level", "n_boot", "seed")
            },
            "fingerprint": self.fingerprint,
        }


def score_items(
    loaded: Any,
    items: pl.DataFrame,
    *,
    batch_size: int = 64,
    start_token: str | int = "auto",
    conditioning: Conditioning = "official",
    packing: Packing = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """``items`` with three columns of sentence scores (mean log-prob per token) added.

    All 3 x N sentences go through :func:`score_sentences` together, so batches (and, with
    trie packing, shared prefixes) are formed over the whole set, not item by item.
    """
    sentences: list[str] = []
    for col in SENTENCE_COLUMNS:
        sentences.extend(items[col].to_list())
    scores = score_sentences(
        loaded,
        sentences,
        batch_size=batch_size,
        start_token=start_token,
        conditioning=conditioning,
        packing=packing,
        progress=progress,
    )
    per_col = np.split(scores, 3)
    return items.with_columns(
        pl.Series(name, vals, dtype=pl.Float64)
        for name, vals in zip(SCORE_COLUMNS, per_col, strict=True)
    )


def evaluate_model(
    loaded: Any,
    items: pl.DataFrame,
    *,
    batch_size: int = 64,
    start_token: str | int = "auto",
    conditioning: Conditioning = "official",
    packing: Packing = "auto",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    data_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StereoSetResult:
    """Score every item with ``loaded`` (a ``LoadedModel``) and compute the metrics.

    The result's fingerprint is the model's fingerprint plus a ``stereoset`` entry naming
    the data file (path and SHA-256), the start token, the conditioning and the bootstrap.
    """
    started = time.perf_counter()
    scored = score_items(
        loaded,
        items,
        batch_size=batch_size,
        start_token=start_token,
        conditioning=conditioning,
        packing=packing,
        progress=progress,
    )
    metrics = intrasentence_metrics(scored, n_boot=n_boot, seed=seed, level=level)
    seconds = time.perf_counter() - started
    tokenizer = loaded.tokenizer
    sid = start_token_id(tokenizer, start_token)
    info: dict[str, Any] = {
        "data": str(data_path) if data_path is not None else None,
        "data_sha256": sha256_file(data_path) if data_path is not None else None,
        "n_items": items.height,
        "start_token_id": sid,
        "start_token": tokenizer.convert_ids_to_tokens(sid),
        "conditioning": conditioning,
        "packing": packing,
        "batch_size": batch_size,
        "score": "mean log-probability per token (log geometric mean)",
        "ci_method": CI_METHOD if n_boot else None,
        "ci_level": level if n_boot else None,
        "n_boot": n_boot,
        "seed": seed,
    }
    from srllm.pipeline import git_commit, library_versions

    info["git_commit"] = git_commit()
    info["versions"] = library_versions()
    spec = getattr(loaded, "spec", None)
    name = getattr(spec, "name", None) or "model"
    fingerprint = {**dict(getattr(loaded, "fingerprint", {}) or {}), "stereoset": info}
    return StereoSetResult(
        model=name, metrics=metrics, items=scored, fingerprint=fingerprint, seconds=seconds
    )


def evaluate_and_store(
    loaded: Any,
    items: pl.DataFrame,
    *,
    db: str | Path | None,
    run_label: str,
    data_path: str | Path | None,
    limit: int | None = None,
    model_name: str | None = None,
    **kwargs: Any,
) -> StereoSetResult:
    """:func:`evaluate_model`, then (when ``db`` is given) store the figures under ``run_label``.

    ``kwargs`` go to :func:`evaluate_model` (batch size, packing, bootstrap, progress, ...).
    """
    from srllm.stereoset.store import save_stereoset_results

    result = evaluate_model(loaded, items, data_path=data_path, **kwargs)
    result.model = model_name or result.model
    result.fingerprint["stereoset"]["limit"] = limit
    result.fingerprint["stereoset"]["run_label"] = run_label
    if db is not None:
        save_stereoset_results(
            db, run_label, result.model, result.fingerprint, result.metrics, seconds=result.seconds
        )
    return result


def evaluate_models(
    models: Sequence[str],
    *,
    db: str | Path | None,
    data_path: str | Path | None = None,
    limit: int | None = None,
    run_label: str | None = None,
    loader: Callable[[Any], Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_result: Callable[[StereoSetResult], None] | None = None,
    **kwargs: Any,
) -> dict[str, StereoSetResult]:
    """Score StereoSet with each model (names as ``resolve_model`` takes) and store the figures.

    All models share one run label (default: a new one) and the same items. ``loader`` turns
    a ``ModelSpec`` into a loaded model (default ``load_model``; the dashboard passes its
    cache); ``progress`` gets (model name, sentences done, total). Other ``kwargs`` go to
    :func:`evaluate_model`. A user's mistake (unknown model, missing data, busy store)
    raises a ``SrllmError`` before any scoring starts.
    """
    import gc

    from srllm.errors import ConfigError, ModelError
    from srllm.models import load_model, resolve_model
    from srllm.stereoset.data import default_data_path, load_intrasentence
    from srllm.stereoset.store import default_run_label
    from srllm.store import Store

    words = [m.strip() for m in models if m and m.strip()]
    if not words:
        raise ConfigError("name at least one model")
    data_path = data_path or default_data_path()
    items = load_intrasentence(data_path, limit=limit)
    specs = []
    for word in words:
        try:
            specs.append(resolve_model(word))
        except ModelError as exc:
            raise ModelError(f"model {word!r}: {exc}") from exc
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"model name(s) given twice: {', '.join(dupes)} (label with NAME=...)")
    if db is not None:
        Store(db)  # fail now, not after scoring, when the file is unusable or busy
    label = run_label or default_run_label(data_path, limit)
    load = loader or load_model
    results: dict[str, StereoSetResult] = {}
    for spec in specs:
        try:
            loaded = load(spec)
        except ModelError as exc:
            raise ModelError(f"model {spec.name!r}: {exc}") from exc

        def step(done: int, total: int, name: str = spec.name) -> None:
            if progress is not None:
                progress(name, done, total)

        result = evaluate_and_store(
            loaded,
            items,
            db=db,
            run_label=label,
            data_path=data_path,
            limit=limit,
            model_name=spec.name,
            progress=step,
            **kwargs,
        )
        results[spec.name] = result
        if on_result is not None:
            on_result(result)
        del loaded
        gc.collect()
    return results
