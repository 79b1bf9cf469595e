"""StereoSet intrasentence evaluation (issue #8): sentence scores, metrics, storage.

``load_intrasentence`` reads the items by path, ``score_sentences`` scores sentences with any
causal LM, ``intrasentence_metrics`` turns per-item scores into the official LMS, SS and ICAT
(plus bootstrap CIs, an extra), ``evaluate_model`` does all of it for one loaded model, and
``save_stereoset_results`` / ``stereoset_metrics_table`` store and tabulate the figures.
"""

from srllm.stereoset.data import (
    DOMAINS,
    OVERALL,
    REQUIRED_COLUMNS,
    SCORE_COLUMNS,
    SENTENCE_COLUMNS,
    default_data_path,
    load_intrasentence,
)
from srllm.stereoset.evaluate import (
    StereoSetResult,
    evaluate_and_store,
    evaluate_model,
    evaluate_models,
    score_items,
)
from srllm.stereoset.lm import score_sentences, start_token_id
from srllm.stereoset.metrics import (
    CI_METHOD,
    ROW_COLUMNS,
    icat,
    intrasentence_metrics,
    item_outcomes,
    term_metrics,
)
from srllm.stereoset.store import (
    default_run_label,
    save_stereoset_results,
    stereoset_metrics_table,
)

__all__ = [
    "CI_METHOD",
    "DOMAINS",
    "OVERALL",
    "REQUIRED_COLUMNS",
    "ROW_COLUMNS",
    "SCORE_COLUMNS",
    "SENTENCE_COLUMNS",
    "StereoSetResult",
    "default_data_path",
    "default_run_label",
    "evaluate_and_store",
    "evaluate_model",
    "evaluate_models",
    "icat",
    "intrasentence_metrics",
    "item_outcomes",
    "load_intrasentence",
    "save_stereoset_results",
    "score_items",
    "score_sentences",
    "start_token_id",
    "stereoset_metrics_table",
    "term_metrics",
]
