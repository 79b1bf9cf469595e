"""Confidence intervals: Wilson for rates, Student t for means, cluster bootstrap for gaps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

BOOT_CHUNK_CELLS = 2_000_000
"""Largest bootstrap weight matrix (replicates x templates) held in memory at once."""


def wilson_interval(
    count: np.ndarray | int, n: np.ndarray | int, *, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``count`` successes out of ``n`` (vectorised).

    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``. Entries with
    ``n == 0`` give NaN.
    """
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(count, safe, alpha=1 - level, method="wilson")
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return np.atleast_1d(low).astype(float), np.atleast_1d(high).astype(float)


def t_interval(
    mean: np.ndarray | float,
    sd: np.ndarray | float,
    n: np.ndarray | int,
    *,
    level: float = 0.95,
    clip: tuple[float, float] | None = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Student t interval for a mean: ``mean +- t(1 - a/2, n - 1) * sd / sqrt(n)``.

    ``sd`` is the sample standard deviation (ddof=1). ``n < 2`` gives NaN. The bounds are
    clipped to ``clip`` (toxicity scores lie in [0, 1]); pass ``None`` to keep them raw.
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n >= 2
    dof = np.where(ok, n - 1, 1.0)
    half = sps.t.ppf(0.5 + level / 2, dof) * np.where(ok, sd, np.nan) / np.sqrt(np.maximum(n, 1))
    low, high = mean - half, mean + half
    if clip is not None:
        low, high = np.clip(low, *clip), np.clip(high, *clip)
    return np.atleast_1d(low), np.atleast_1d(high)


def template_matrix(
    df: pl.DataFrame, *, value: str, unit: str = "template_id", key: tuple[str, ...] = ("group",)
) -> tuple[list, list[tuple], np.ndarray, np.ndarray]:
    """Per unit (template) and key (group) the row count and the sum of ``value``.

    Returns ``(units, keys, n, s)`` where ``n`` and ``s`` have shape (units, keys).
    """
    key = list(key)
    agg = df.group_by(unit, *key).agg(n=pl.len(), s=pl.col(value).sum())
    unit_index = agg.select(unit).unique().sort(unit).with_row_index("_u")
    key_index = agg.select(key).unique().sort(key, nulls_last=True).with_row_index("_k")
    agg = agg.join(unit_index, on=unit, how="left", nulls_equal=True).join(
        key_index, on=key, how="left", nulls_equal=True
    )
    n = np.zeros((unit_index.height, key_index.height))
    s = np.zeros((unit_index.height, key_index.height))
    ui = agg.get_column("_u").to_numpy()
    ki = agg.get_column("_k").to_numpy()
    n[ui, ki] = agg.get_column("n").to_numpy()
    s[ui, ki] = agg.get_column("s").cast(pl.Float64).to_numpy()
    units = unit_index.get_column(unit).to_list()
    keys = list(key_index.select(key).iter_rows())
    return units, keys, n, s


def bootstrap_weights(n_units: int, n_boot: int, *, seed: int) -> list[np.ndarray]:
    """Resampling weights: how often each unit is drawn, one row per replicate, in chunks.

    Each row is a multinomial draw of ``n_units`` units with equal probabilities (the
    nonparametric bootstrap of units with replacement), from ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, BOOT_CHUNK_CELLS // max(n_units, 1)))
    probs = np.full(n_units, 1.0 / n_units)
    out = []
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        out.append(rng.multinomial(n_units, probs, size=size).astype(float))
        done += size
    return out


def bootstrap_sums(weights: list[np.ndarray], *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """``weights @ array`` for each (units x keys) array, stacked over the chunks."""
    return tuple(np.vstack([w @ a for w in weights]) for a in arrays)


def percentile_interval(samples: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the finite samples (NaN when there are none)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is zero."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def gap_statistics(rates: np.ndarray, overall: np.ndarray) -> dict[str, np.ndarray]:
    """Disparity summaries of group rates (last axis = groups; NaN groups are ignored).

    - ``between_groups``: difference ``max - min``; ratio ``min / max``;
    - ``to_overall``: difference ``max |rate - overall|``; ratio ``min(rate/overall,
      overall/rate)`` over groups (fairlearn's definitions).
    """
    rates = np.asarray(rates, dtype=float)
    overall = np.asarray(overall, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        hi = _nanreduce(np.nanmax, rates)
        lo = _nanreduce(np.nanmin, rates)
        dev = _nanreduce(np.nanmax, np.abs(rates - overall[..., None]))
        r1 = safe_ratio(rates, np.broadcast_to(overall[..., None], rates.shape))
        r2 = safe_ratio(np.broadcast_to(overall[..., None], rates.shape), rates)
        r_over = _nanreduce(np.nanmin, np.fmin(r1, r2))
    return {
        "between_groups_difference": hi - lo,
        "between_groups_ratio": safe_ratio(lo, hi),
        "to_overall_difference": dev,
        "to_overall_ratio": r_over,
    }


def _nanreduce(fn: Callable[..., np.ndarray], a: np.ndarray) -> np.ndarray:
    """``fn(a, axis=-1)`` that returns NaN (without a warning) where a row is all NaN."""
    allnan = np.all(np.isnan(a), axis=-1)
    filled = np.where(np.isnan(a).all(axis=-1, keepdims=True), 0.0, a)
    return np.where(allnan, np.nan, fn(filled, axis=-1))
