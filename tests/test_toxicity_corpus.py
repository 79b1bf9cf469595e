"""The toxicity corpus bench/eval_classifier.py refits on is the one the shipped weights used."""

from __future__ import annotations

import pytest
from conftest import shared_path

from srllm.errors import DataError


def test_toxicity_corpus_sources_are_exactly_the_weighted_sources_davidson_included():
    """Every source the recipe weights is in the corpus (Davidson's negatives too), no other."""
    from srllm.scoring import recipe as R

    shared_path("davidson")  # skips, naming the path, without ../shared/data
    try:
        corpus = R.toxicity_corpus()
    except DataError as exc:  # another source's files are missing
        pytest.skip(f"reference data incomplete: {exc}")
    sources = set(corpus["source"].unique().to_list())
    assert {"davidson_hate", "davidson_neither"} <= sources
    assert sources == set(R.TOX_SOURCE_WEIGHT)
