"""Toxicity scorers: a score in [0, 1] per text; ``taxonomy.is_toxic`` says which are toxic.

Backends, chosen by a spec string (``make_toxicity``):

- ``builtin`` (default): hashed n-gram logistic regression on de-obfuscated, identity-masked
  text (``data/scoring/toxicity.safetensors``). Offline, CPU, thousands per second.
- ``hf:/path/to/dir``: any local Hugging Face sequence-classification model directory
  (safetensors only, never remote code); the toxic class is picked from ``id2label``.
- ``detoxify:/path/to/checkpoint.ckpt``: a local Detoxify checkpoint (needs ``detoxify``).
- ``perspective``: Google's Perspective API; needs ``PERSPECTIVE_API_KEY``.
- ``openai``: OpenAI's moderation endpoint; needs ``OPENAI_API_KEY``.

The two network clients are thin and used only when the user configures them; they send the
text to a third party, which the dashboard must say before using them.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from srllm.errors import ConfigError

if TYPE_CHECKING:  # the recipe imports this module's callers, not this module
    from srllm.scoring.recipe import ToxicityModel
from srllm.scoring.embed import clip

_TOXIC_WORDS = ("toxic", "hate", "offensive", "abusive", "insult", "obscene", "harmful")
MAX_CHARS = 4000


class ToxicityBackend(Protocol):
    """Anything that scores texts for toxicity."""

    name: str
    version: str
    uses_embeddings: bool

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """Scores in [0, 1], one per text."""
        ...


class BuiltinToxicity:
    """Logistic regression over hashed n-grams and a tuned MiniLM sentence vector.

    It reads de-obfuscated, identity-masked text; the vector comes from MiniLM with its top
    layers tuned for toxicity. Trained on ToxiGen, Implicit Hate, Social Bias Frames (dev),
    DiaSafety (train), Davidson and this project's written sentences (see
    ``data/scoring/TRAINING.md``). Identity terms are masked before the model
    reads a text, so the same sentence scores the same whichever group it names. No lexicon
    rule overrides the learned score.
    """

    name = "builtin"
    uses_embeddings = False

    def __init__(self, model: ToxicityModel, version: str) -> None:
        self.model = model
        self.version = version

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """Probability of the toxic class; empty texts score 0."""
        from srllm.scoring.recipe import score_toxicity

        if not len(texts):
            return np.zeros(0)
        return score_toxicity(self.model, list(texts))


class HFToxicity:
    """A local Hugging Face sequence-classification model directory."""

    name = "hf"
    uses_embeddings = False

    def __init__(self, path: str | Path, batch_size: int = 32, max_length: int = 256) -> None:
        path = Path(path)
        if not (path / "config.json").exists():
            raise ConfigError(f"no Hugging Face model directory at {path} (config.json missing)")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(path), local_files_only=True, use_safetensors=True, trust_remote_code=False
        ).eval()
        labels = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        hits = [i for i, lab in labels.items() if any(w in lab for w in _TOXIC_WORDS)]
        self.index = hits[0] if hits else (1 if len(labels) > 1 else 0)
        self.multi_label = self.model.config.problem_type == "multi_label_classification" or (
            len(labels) == 1
        )
        self.batch_size = batch_size
        self.max_length = max_length
        self.version = f"hf:{path.name}"

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """Probability of the model's toxic label."""
        import torch

        out = np.zeros(len(texts))
        clean = [clip(t, MAX_CHARS) for t in texts]
        with torch.inference_mode():
            for s in range(0, len(clean), self.batch_size):
                enc = self.tokenizer(
                    clean[s : s + self.batch_size],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self.model(**enc).logits.float()
                if self.multi_label:
                    p = torch.sigmoid(logits)[:, self.index]
                else:
                    p = torch.softmax(logits, dim=-1)[:, self.index]
                out[s : s + len(p)] = p.numpy()
        return out


class DetoxifyToxicity:
    """A local Detoxify checkpoint (``pip install detoxify``)."""

    name = "detoxify"
    uses_embeddings = False

    def __init__(self, checkpoint: str | Path, model_type: str = "original") -> None:
        checkpoint = Path(checkpoint)
        if not checkpoint.exists():
            raise ConfigError(f"Detoxify checkpoint not found at {checkpoint}")
        try:
            from detoxify import Detoxify
        except ImportError as exc:
            raise ConfigError("the detoxify backend needs: pip install detoxify") from exc
        self.model = Detoxify(model_type, checkpoint=str(checkpoint), device="cpu")
        self.version = f"detoxify:{checkpoint.name}"

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """Detoxify's ``toxicity`` output."""
        res = self.model.predict([clip(t, MAX_CHARS) for t in texts])
        return np.asarray(res["toxicity"], dtype=float)


def _post_json(url: str, payload: dict, headers: dict[str, str], timeout: float = 30) -> dict:
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"{url} answered HTTP {exc.code}: {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ConfigError(f"cannot reach {url}: {exc.reason}") from exc


class PerspectiveToxicity:
    """Perspective API ``TOXICITY`` (sends each text to Google; needs PERSPECTIVE_API_KEY)."""

    name = "perspective"
    uses_embeddings = False
    url = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
    version = "perspective:v1alpha1"

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key or os.environ.get("PERSPECTIVE_API_KEY")
        if not self.api_key:
            raise ConfigError("the perspective backend needs PERSPECTIVE_API_KEY set")

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """Summary TOXICITY score of each text (one request per non-empty text)."""
        out = np.zeros(len(texts))
        for i, t in enumerate(texts):
            text = clip(t, MAX_CHARS)
            if not text.strip():
                continue
            res = _post_json(
                f"{self.url}?key={self.api_key}",
                {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}},
                {},
            )
            out[i] = float(res["attributeScores"]["TOXICITY"]["summaryScore"]["value"])
        return out


class OpenAIModeration:
    """OpenAI moderation: the largest hate/harassment/violence score (needs OPENAI_API_KEY)."""

    name = "openai"
    uses_embeddings = False
    url = "https://api.openai.com/v1/moderations"
    categories = ("hate", "hate/threatening", "harassment", "harassment/threatening", "violence")

    def __init__(self, api_key: str | None = None, model: str = "omni-moderation-latest") -> None:
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not self.api_key:
            raise ConfigError("the openai backend needs OPENAI_API_KEY set")
        self.model = model
        self.version = f"openai:{model}"

    def score(self, texts: Sequence[str | None], vectors: np.ndarray | None = None) -> np.ndarray:
        """One request per batch of 32 texts."""
        out = np.zeros(len(texts))
        clean = [clip(t, MAX_CHARS) for t in texts]
        for s in range(0, len(clean), 32):
            res = _post_json(
                self.url,
                {"model": self.model, "input": clean[s : s + 32]},
                {"Authorization": f"Bearer {self.api_key}"},
            )
            for j, r in enumerate(res["results"]):
                scores = r.get("category_scores", {})
                out[s + j] = max((float(scores.get(c, 0.0)) for c in self.categories), default=0.0)
        return out
