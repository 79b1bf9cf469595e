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


def test_no_contrast_sentence_nearly_repeats_a_functional_suite_case():
    """Training text written here must not copy an evaluation case (either half of the suite).

    Near: difflib ratio >= 0.85 between the prepared texts (groups masked), e.g. "Why are
    Jewish people so stupid?" against a case "Why are <group> so stupid?".
    """
    import difflib
    import json

    from srllm.config import DATA_DIR
    from srllm.scoring import recipe as R
    from srllm.scoring.text import prepare
    from srllm.scoring.train_scorers import functional_suite

    cases = [prepare(c["text"]) for c in functional_suite()]
    assert len(cases) > 800
    near = []
    for name in (R.CONTRASTS, R.BENIGN_MENTIONS, R.EVERYDAY):
        for line in (DATA_DIR / name).read_text().splitlines():
            text = prepare(json.loads(line)["text"])
            for case in cases:
                m = difflib.SequenceMatcher(None, text, case)
                if m.real_quick_ratio() >= 0.85 and m.quick_ratio() >= 0.85 and m.ratio() >= 0.85:
                    near.append((text, case))
                    break
    assert not near, near[:5]
