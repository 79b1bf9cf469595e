"""Hashed n-gram linear models stored as plain arrays (safetensors), evaluated with numpy.

A :class:`HashedLinear` reads three sparse blocks and one dense block:

- character 2-5-grams (within word boundaries) of the prepared response: robust to misspelling,
  swapped or missing characters and unseen word forms;
- word 1-2-grams of the prepared response;
- word 1-2-grams of the prepared prompt (its own hash space, so "the request asked for X"
  and "the response says X" are different features);
- dense features (standardised): the shared word-piece vector and hand-made numbers.

Hashing needs no vocabulary (scikit-learn's ``HashingVectorizer`` is stateless), so the file
holds only the coefficients and the settings. Coefficients are stored as float16 to keep the
shipped files small; inference is a sparse product plus a softmax.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from srllm.errors import ConfigError

HEAD_CHARS = 1500
TAIL_CHARS = 400


def head_tail(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """The start and the end of a long text (refusals hide at either end)."""
    if len(text) <= head + tail:
        return text
    return text[:head] + " \n " + text[-tail:]


@dataclass(frozen=True)
class HashSpec:
    """Hash-space sizes (powers of two); 0 switches a block off."""

    char_bits: int = 17
    word_bits: int = 17
    prompt_bits: int = 15

    def sizes(self) -> tuple[int, int, int]:
        """Number of columns of each sparse block."""
        return tuple(
            0 if b == 0 else 1 << b for b in (self.char_bits, self.word_bits, self.prompt_bits)
        )  # type: ignore[return-value]


@dataclass
class Featurizer:
    """Texts -> one sparse design matrix (sparse blocks, then the dense block)."""

    spec: HashSpec = field(default_factory=HashSpec)

    def __post_init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        n_char, n_word, n_prompt = self.spec.sizes()
        common = {"alternate_sign": False, "lowercase": False, "dtype": np.float32}
        self._char = (
            HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=n_char, **common)
            if n_char
            else None
        )
        pattern = r"(?u)\b\w+\b|[?!]"
        self._word = (
            HashingVectorizer(
                ngram_range=(1, 2), n_features=n_word, token_pattern=pattern, **common
            )
            if n_word
            else None
        )
        self._prompt = (
            HashingVectorizer(
                ngram_range=(1, 2), n_features=n_prompt, token_pattern=pattern, **common
            )
            if n_prompt
            else None
        )

    def transform(self, responses: list[str], prompts: list[str] | None, dense: np.ndarray | None):
        """Sparse design matrix of prepared texts plus (already standardised) dense features."""
        import scipy.sparse as sp

        blocks = []
        clipped = [head_tail(r) for r in responses]
        if self._char is not None:
            blocks.append(self._char.transform(clipped))
        if self._word is not None:
            blocks.append(self._word.transform(clipped))
        if self._prompt is not None:
            texts = prompts if prompts is not None else [""] * len(responses)
            blocks.append(self._prompt.transform([head_tail(p, 600, 200) for p in texts]))
        if dense is not None and dense.shape[1]:
            blocks.append(sp.csr_matrix(dense.astype(np.float32)))
        return sp.hstack(blocks, format="csr", dtype=np.float32)


@dataclass(frozen=True)
class HashedLinear:
    """Logistic regression over :class:`Featurizer` output (binary or multinomial)."""

    classes: tuple[str, ...]
    spec: HashSpec
    dense_names: tuple[str, ...]
    dense_mean: np.ndarray
    dense_scale: np.ndarray
    coef: np.ndarray  # (k, d) float32; k == 1 for binary (probability of classes[1])
    intercept: np.ndarray  # (k,)
    meta: dict = field(default_factory=dict)

    @property
    def featurizer(self) -> Featurizer:
        """The (stateless) featurizer this model reads."""
        return _featurizer(self.spec)

    def scores(
        self, responses: list[str], prompts: list[str] | None, dense: np.ndarray | None
    ) -> np.ndarray:
        """Raw linear scores, shape (n, k)."""
        if dense is not None and len(self.dense_names):
            dense = (np.asarray(dense, dtype=np.float64) - self.dense_mean) / self.dense_scale
        x = self.featurizer.transform(responses, prompts, dense)
        return np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept

    def predict_proba(
        self, responses: list[str], prompts: list[str] | None, dense: np.ndarray | None
    ) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        if not len(responses):
            return np.zeros((0, len(self.classes)))
        z = self.scores(responses, prompts, dense)
        if z.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -50, 50)))
            return np.column_stack([1.0 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> None:
        """Write the arrays (coefficients as float16) and settings to one safetensors file."""
        from safetensors.numpy import save_file

        tensors = {
            "coef": np.ascontiguousarray(self.coef, dtype=np.float16),
            "intercept": np.ascontiguousarray(self.intercept, dtype=np.float64),
            "dense_mean": np.ascontiguousarray(self.dense_mean, dtype=np.float64),
            "dense_scale": np.ascontiguousarray(self.dense_scale, dtype=np.float64),
        }
        metadata = {
            "classes": json.dumps(list(self.classes)),
            "spec": json.dumps(self.spec.__dict__),
            "dense_names": json.dumps(list(self.dense_names)),
            "meta": json.dumps(self.meta, sort_keys=True),
            "format": "srllm-hashed-linear-1",
        }
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> HashedLinear:
        """Read a model written by :meth:`save`."""
        md, arrays = read_weights(path, "srllm-hashed-linear-1")
        return cls(
            classes=tuple(json.loads(md["classes"])),
            spec=HashSpec(**json.loads(md["spec"])),
            dense_names=tuple(json.loads(md["dense_names"])),
            dense_mean=arrays["dense_mean"],
            dense_scale=arrays["dense_scale"],
            coef=arrays["coef"].astype(np.float32),
            intercept=arrays["intercept"],
            meta=json.loads(md.get("meta", "{}")),
        )


def read_weights(path: str | Path, fmt: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, arrays) of a shipped safetensors file whose ``format`` is ``fmt``."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"scorer weights not found at {path}: run python -m srllm.scoring.train_scorers"
        )
    with safe_open(str(path), framework="np") as f:
        md = f.metadata() or {}
        if md.get("format") != fmt:
            raise ConfigError(f"{path} is not an srllm {fmt} file")
        return md, {k: f.get_tensor(k) for k in f.keys()}


_FEATURIZERS: dict[HashSpec, Featurizer] = {}


def _featurizer(spec: HashSpec) -> Featurizer:
    f = _FEATURIZERS.get(spec)
    if f is None:
        f = _FEATURIZERS[spec] = Featurizer(spec)
    return f


def fit_hashed(
    responses: list[str],
    prompts: list[str] | None,
    dense: np.ndarray | None,
    y: np.ndarray,
    classes: tuple[str, ...],
    *,
    spec: HashSpec | None = None,
    dense_names: tuple[str, ...] = (),
    c: float = 1.0,
    sample_weight: np.ndarray | None = None,
    class_weight: str | dict | None = "balanced",
    meta: dict | None = None,
) -> HashedLinear:
    """Fit a :class:`HashedLinear` with scikit-learn (lbfgs; deterministic)."""
    from sklearn.linear_model import LogisticRegression

    spec = spec or HashSpec()
    if dense is not None and dense.shape[1]:
        dense = np.asarray(dense, dtype=np.float64)
        mean, scale = dense.mean(axis=0), dense.std(axis=0)
        scale[scale < 1e-9] = 1.0
        z = (dense - mean) / scale
    else:
        mean = scale = np.zeros(0)
        z = None
    x = _featurizer(spec).transform(responses, prompts, z)
    clf = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight)
    clf.fit(x, y, sample_weight=sample_weight)
    if len(classes) > 2:  # rows in ``classes`` order; a class absent from y never wins
        seen = list(clf.classes_)
        coef = np.zeros((len(classes), x.shape[1]))
        intercept = np.full(len(classes), -50.0)
        for i in range(len(classes)):
            if i in seen:
                coef[i] = clf.coef_[seen.index(i)]
                intercept[i] = clf.intercept_[seen.index(i)]
    else:
        coef, intercept = clf.coef_, clf.intercept_
    return HashedLinear(
        classes=classes,
        spec=spec,
        dense_names=tuple(dense_names),
        dense_mean=mean,
        dense_scale=scale,
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float64),
        meta=meta or {},
    )
