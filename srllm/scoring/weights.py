"""Loading the shipped scorer weights once per process (``data/scoring/``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from srllm.config import DATA_DIR, sha256_file
from srllm.scoring.classifier import ResponseClassifier
from srllm.scoring.hashed import HashedLinear
from srllm.scoring.toxicity import BuiltinToxicity

CLASSIFIER_FILE = "response_classifier.safetensors"
TOXICITY_FILE = "toxicity.safetensors"
RULES_VERSION = "2"


def weights_dir() -> Path:
    """Folder of the shipped weights (``SRLLM_SCORING_DIR`` overrides ``data/scoring``)."""
    return Path(os.environ.get("SRLLM_SCORING_DIR", str(DATA_DIR / "scoring")))


LOCK = threading.RLock()
CACHE: dict[str, object] = {}


def _load(name: str) -> tuple[HashedLinear, str]:
    key = f"hashed:{weights_dir() / name}"
    with LOCK:
        if key not in CACHE:
            path = weights_dir() / name
            model = HashedLinear.load(path)
            CACHE[key] = (model, sha256_file(path)[:8])
        return CACHE[key]  # type: ignore[return-value]


def response_classifier() -> tuple[ResponseClassifier, str]:
    """The shipped classifier and its version (loaded once per process)."""
    model, sha = _load(CLASSIFIER_FILE)
    with LOCK:
        key = f"clf:{sha}"
        if key not in CACHE:
            CACHE[key] = ResponseClassifier(model)
        return CACHE[key], f"{RULES_VERSION}+{sha}"  # type: ignore[return-value]


def builtin_toxicity() -> BuiltinToxicity:
    """The shipped ToxiGen-trained toxicity model."""
    model, sha = _load(TOXICITY_FILE)
    with LOCK:
        key = f"tox:{sha}"
        if key not in CACHE:
            CACHE[key] = BuiltinToxicity(model, f"builtin+{sha}")
        return CACHE[key]  # type: ignore[return-value]
