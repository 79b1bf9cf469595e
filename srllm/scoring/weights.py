"""Loading the shipped scorer weights once per process (``data/scoring/``)."""

from __future__ import annotations

import threading

from srllm.config import sha256_file
from srllm.scoring.classifier import ResponseClassifier
from srllm.scoring.embed import TOX_LAYER_FILE, weights_dir
from srllm.scoring.hashed import HashedLinear
from srllm.scoring.mlp import DenseMLP
from srllm.scoring.recipe import SixClassModel, ToxicityModel
from srllm.scoring.toxicity import BuiltinToxicity

CLASSIFIER_FILE = "response_classifier.safetensors"
CLASSIFIER_MLP_FILE = "response_classifier_mlp.safetensors"
TOXICITY_FILE = "toxicity.safetensors"
TOXICITY_MLP_FILE = "toxicity_mlp.safetensors"
RULES_VERSION = "2"


__all__ = ["weights_dir", "response_classifier", "builtin_toxicity"]


LOCK = threading.RLock()
CACHE: dict[str, object] = {}


def _load(name: str, cls):
    """``cls.load`` of a weight file and its short hash, once per process and path."""
    path = weights_dir() / name
    key = f"{cls.__name__}:{path}"
    with LOCK:
        if key not in CACHE:
            CACHE[key] = (cls.load(path), sha256_file(path)[:8])
        return CACHE[key]


def response_classifier() -> tuple[ResponseClassifier, str]:
    """The shipped classifier and its version (loaded once per process).

    The version names both weight files (the linear model's hash, then the MLP's).
    """
    linear, sha = _load(CLASSIFIER_FILE, HashedLinear)
    mlp, sha_mlp = _load(CLASSIFIER_MLP_FILE, DenseMLP)
    with LOCK:
        key = f"clf:{sha}:{sha_mlp}"
        if key not in CACHE:
            CACHE[key] = ResponseClassifier(SixClassModel(linear, mlp))
        return CACHE[key], f"{RULES_VERSION}+{sha}{sha_mlp[:4]}"  # type: ignore[return-value]


def builtin_toxicity() -> BuiltinToxicity:
    """The shipped toxicity model (linear and MLP parts and the tuned encoder layer).

    The version names the files: the linear model's hash, the MLP's and the layer's
    (``embed.TOX_LAYER_FILE``, read by the shared encoder).
    """
    linear, sha = _load(TOXICITY_FILE, HashedLinear)
    mlp, sha_mlp = None, ""
    if (weights_dir() / TOXICITY_MLP_FILE).is_file():  # optional (``recipe.TOX_MLP``)
        mlp, sha_mlp = _load(TOXICITY_MLP_FILE, DenseMLP)
    with LOCK:
        path = weights_dir() / TOX_LAYER_FILE
        layer = sha256_file(path)[:8] if path.is_file() else ""
        key = f"tox:{sha}:{sha_mlp}:{layer}"
        if key not in CACHE:
            version = f"builtin+{sha}{sha_mlp[:4]}" + (f".L{layer[:6]}" if layer else "")
            CACHE[key] = BuiltinToxicity(ToxicityModel(linear, mlp), version)
        return CACHE[key]  # type: ignore[return-value]
