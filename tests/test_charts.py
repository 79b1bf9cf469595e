"""Figures draw what the stats computed: the run history's per-group lines."""

from __future__ import annotations

import polars as pl
import pytest

from srllm import charts
from srllm.stats.history import run_history


def _run(model: str, refused: dict[str, int], n: int = 40) -> list[dict]:
    """``n`` benign rows per group, the first ``refused[group]`` of them refused."""
    return [
        {
            "model": model,
            "group": g,
            "template_id": f"T{t:03d}",
            "kind": "benign",
            "category": "refusal" if t < k else "answer",
        }
        for g, k in refused.items()
        for t in range(n)
    ]


def test_history_group_lines_draw_each_groups_rate_per_run_with_its_interval():
    runs = [
        ("v1", pl.DataFrame(_run("m", {"A": 20, "B": 4}))),
        ("v2", pl.DataFrame(_run("m", {"A": 10, "B": 6}))),
        ("v3", pl.DataFrame(_run("m", {"A": 5, "B": 5}))),
    ]
    by_group, _ = run_history(runs, n_boot=50)
    fig = charts.history_group_lines(by_group)
    assert [t.name for t in fig.data] == ["A", "B"]  # one line per group
    for trace in fig.data:
        rows = by_group.filter(pl.col("group") == trace.name).sort("order")
        assert list(trace.x) == ["v1", "v2", "v3"]  # runs in their order
        assert list(trace.y) == pytest.approx(rows["rate"].to_list())
        # the error bars reach the history's interval on both sides
        assert [y + e for y, e in zip(trace.y, trace.error_y.array, strict=True)] == (
            pytest.approx(rows["ci_high"].to_list())
        )
        assert [y - e for y, e in zip(trace.y, trace.error_y.arrayminus, strict=True)] == (
            pytest.approx(rows["ci_low"].to_list())
        )
    assert list(fig.data[0].y) == pytest.approx([0.5, 0.25, 0.125])
    assert "per group across runs" in fig.layout.title.text


def test_history_group_lines_keep_models_apart():
    runs = [
        ("v1", pl.DataFrame(_run("base", {"A": 20, "B": 4}) + _run("tuned", {"A": 8, "B": 4}))),
        ("v2", pl.DataFrame(_run("base", {"A": 10, "B": 6}) + _run("tuned", {"A": 2, "B": 2}))),
    ]
    by_group, _ = run_history(runs, n_boot=50)
    fig = charts.history_group_lines(by_group)
    assert sorted(t.name for t in fig.data) == ["base · A", "base · B", "tuned · A", "tuned · B"]
    tuned_a = next(t for t in fig.data if t.name == "tuned · A")
    assert list(tuned_a.y) == pytest.approx([0.2, 0.05])
    colour = {t.name: t.line.color for t in fig.data}
    assert colour["base · A"] == colour["tuned · A"] != colour["base · B"]  # colour = group
