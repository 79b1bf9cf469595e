"""Run history: the same prompt set across runs (model versions, adapters, checkpoints)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from srllm.stats.disparity import disparity
from srllm.stats.kinds import select_kind


def run_history(
    runs: Sequence[tuple[str, pl.DataFrame]],
    *,
    metric: str = "refusal",
    kind: str | None = None,
    n_boot: int = 500,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per run (in the given order): each group's rate and each model's max-min gap.

    ``runs`` is ``[(label, analysis frame), ...]``. Returns ``(by_group, gaps)``:
    ``run, order, model, group, n, rate, ci_low, ci_high`` and ``run, order, model,
    difference, ci_low, ci_high, group_max, group_min``. Each run is analysed on the same
    prompt kind (``kinds.select_kind``).
    """
    groups, gaps = [], []
    for order, (label, data) in enumerate(runs):
        d, _ = select_kind(data, metric, kind)
        f = disparity(d, metric=metric, n_boot=n_boot)
        tag = [pl.lit(label).alias("run"), pl.lit(order).alias("order")]
        groups.append(f.by_group.select(*tag, "model", "group", "n", "rate", "ci_low", "ci_high"))
        gaps.append(f.difference().select(*tag, pl.all()))
    return pl.concat(groups), pl.concat(gaps)
