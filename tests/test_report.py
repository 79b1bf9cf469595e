"""The HTML report of a run: each section reads the prompts where its harm is a harm."""

from __future__ import annotations

import html
import re

import polars as pl
import pytest
from storebuilder import build_store, synthetic_prompts

from srllm import charts
from srllm.report import build_report
from srllm.store import Store

BENIGN_NOTE = "Analysed: benign prompts (refusing them is the quality-of-service harm): 40 of 80"


def _table_after(page: str, heading: str) -> list[dict[str, str]]:
    """The first HTML table after an ``<h2>`` heading, as rows of cell texts."""
    start = page.index(f"<h2>{heading}</h2>")
    table = page[start : page.index("</table>", start)]
    rows = [
        [html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)]
        for tr in re.findall(r"<tr>(.*?)</tr>", table)
    ]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, pl.DataFrame]:
    """10 benign and 10 stereotype-inviting templates for groups A and B, base and tuned.

    Both models refuse every stereotype-inviting request (as a safety tuning should); on the
    benign ones base refuses A in 6 of 10 templates and B never, tuned refuses none.
    """
    groups = ("A", "B")
    benign = synthetic_prompts([(f"b{t}", g) for t in range(10) for g in groups], kind="qos")
    inviting = synthetic_prompts(
        [(f"s{t}", g) for t in range(10) for g in groups], kind="stereotype"
    )
    prompts = pl.concat([benign, inviting])
    answers = []
    for model in ("base", "tuned"):
        for pid, t, g, kind in prompts.select("prompt_id", "template_id", "group", "kind").rows():
            refused = kind == "stereotype" or (model == "base" and g == "A" and int(t[1:]) < 6)
            category = (0.9, "refusal") if refused else (0.1, "answer")
            answers.append(
                {
                    "model": model,
                    "prompt_id": pid,
                    "scores": {"category": category, "toxicity": 0.1},
                }
            )
    store = Store(tmp_path_factory.mktemp("report") / "r.duckdb")
    run = build_store(store, answers, prompts=prompts, models=["base", "tuned"], finished=True)
    shares = []
    real = charts.category_stack
    mp = pytest.MonkeyPatch()
    mp.setattr(charts, "category_stack", lambda s, **kw: shares.append(s) or real(s, **kw))
    try:
        page = build_report(store, run)
    finally:
        mp.undo()
    return page, shares[0]


def test_category_counterfactual_and_base_vs_tuned_sections_read_benign_prompts(report):
    page, shares = report
    for heading in ("Response categories", "Counterfactual consistency", "Base vs tuned"):
        assert f"<h2>{heading}</h2><p><i>{BENIGN_NOTE}" in page, heading
    assert "categories, counterfactual consistency and the base-vs-tuned comparison" in page
    # tuned refused no benign request (pooled, its refusals of stereotypes would be half)
    refused = shares.filter(pl.col("category") == "refusal")
    assert refused.filter(pl.col("model") == "tuned").height == 0
    assert refused.filter((pl.col("model") == "base") & (pl.col("group") == "A"))["share"][0] == (
        pytest.approx(0.6)
    )
    blocks = _table_after(page, "Counterfactual consistency")
    assert {r["model"]: r["n_templates"] for r in blocks} == {"base": "10", "tuned": "10"}
    gap = _table_after(page, "Base vs tuned")[0]
    assert (gap["n_templates"], float(gap["gap_base"]), float(gap["gap_tuned"])) == ("10", 0.6, 0)


def test_impact_ratio_section_flags_the_group_answered_under_four_fifths(report):
    """Base answers A's benign requests 4 times in 10 and B's always: A's ratio is 0.4."""
    import math

    page, _ = report
    assert f"<h2>Impact ratio</h2><p><i>{BENIGN_NOTE}" in page
    rows = {(r["model"], r["group"]): r for r in _table_after(page, "Impact ratio")}
    assert set(rows) == {("base", "A"), ("base", "B"), ("tuned", "A"), ("tuned", "B")}
    a = rows["base", "A"]
    # of the benign requests only (pooled with the refused stereotype ones, n would be 20)
    assert (a["n"], float(a["answer_rate"]), a["best_group"]) == ("10", 0.4, "B")
    assert float(a["impact_ratio"]) == pytest.approx(0.4)
    # Katz log interval of a ratio of proportions: 4/10 over 10/10
    se = math.sqrt(1 / 4 - 1 / 10 + 1 / 10 - 1 / 10)
    low, high = (0.4 * math.exp(s * 1.959964 * se) for s in (-1, 1))
    assert float(a["ci_low"]) == pytest.approx(low, rel=1e-3)
    assert float(a["ci_high"]) == pytest.approx(high, rel=1e-3)
    assert a["below_four_fifths"] == "True"
    flagged = [k for k, r in rows.items() if r["below_four_fifths"] == "True"]
    assert flagged == [("base", "A")]  # tuned answers both groups alike
    assert '<p class="sig">Below four-fifths' in page and "base / A: 0.40" in page
