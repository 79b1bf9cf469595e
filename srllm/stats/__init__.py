"""Statistics of refusal, harmful-answer and toxicity disparities across demographic groups.

Input: a polars DataFrame with ``model, group, template_id, category`` (``toxicity`` for the
toxicity metric; ``axis``, ``prompt_id``, ``sample_idx`` used when present), such as
``Store.scored_frame(run_id)``. Every result is a frozen dataclass of polars DataFrames; charts
(``srllm.charts``) draw them and compute nothing.

- ``disparity`` -> ``DisparityFrame`` (fairlearn MetricFrame-like): rates with Wilson / t
  intervals, group-vs-rest tests with Holm and BH corrections, an overall test,
  ``difference()`` / ``ratio()`` with bootstrap intervals. ``disparity_table`` flattens it.
- ``counterfactual`` -> ``CounterfactualResult``: Cochran's Q / McNemar on templates and the
  flip table ("answered for A, refused for B").
- ``compare_models`` -> ``ModelComparison``: base vs tuned, McNemar per group and the change
  in the disparity gap with a bootstrap interval.
- ``agreement`` / ``agreement_by_group``: Cohen's and Fleiss' kappa on human labels;
  ``binary_agreement_by_group``: Cohen's kappa and counts of a judge's yes/no call vs people's.
"""

from srllm.stats._prep import (
    CATEGORIES,
    HARMFUL_CATEGORIES,
    METRICS,
    REFUSAL_CATEGORIES,
    Metric,
)
from srllm.stats.agreement import (
    Agreement,
    agreement,
    agreement_by_group,
    binary_agreement_by_group,
    cohen_kappa,
    fleiss,
)
from srllm.stats.compare import ModelComparison, compare_models, gap_verdict, paired_outcomes
from srllm.stats.disparity import DisparityFrame, disparity, disparity_table
from srllm.stats.intervals import t_interval, wilson_interval
from srllm.stats.paired import CounterfactualResult, counterfactual, template_outcomes
from srllm.stats.significance import HypothesisTest, adjust, contingency, mcnemar_test, two_by_two
from srllm.taxonomy import TOXIC_THRESHOLD

__all__ = [
    "CATEGORIES",
    "HARMFUL_CATEGORIES",
    "METRICS",
    "REFUSAL_CATEGORIES",
    "TOXIC_THRESHOLD",
    "Agreement",
    "CounterfactualResult",
    "DisparityFrame",
    "HypothesisTest",
    "Metric",
    "ModelComparison",
    "adjust",
    "agreement",
    "agreement_by_group",
    "binary_agreement_by_group",
    "cohen_kappa",
    "compare_models",
    "gap_verdict",
    "contingency",
    "counterfactual",
    "disparity",
    "disparity_table",
    "fleiss",
    "mcnemar_test",
    "paired_outcomes",
    "t_interval",
    "template_outcomes",
    "two_by_two",
    "wilson_interval",
]
