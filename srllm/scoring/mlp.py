"""A one-hidden-layer network over a dense feature block, stored as plain arrays (safetensors).

The six-category classifier averages its probabilities with the hashed linear model's: the
linear model reads words and character n-grams, this one reads the dense block (refusal
features, lengths, toxicity, the contextual vectors of response and prompt) and can combine
them (a compliant response *to a harmful request* is a harmful answer; the same response to a
harmless one is an answer), which a linear model over the concatenation cannot. Fitted with
scikit-learn (``MLPClassifier``, adam, fixed seed); inference is two matrix products in numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "srllm-dense-mlp-1"


@dataclass(frozen=True)
class DenseMLP:
    """Standardise, ReLU hidden layer, softmax over ``classes``."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # (d, h)
    b1: np.ndarray
    w2: np.ndarray  # (h, k)
    b2: np.ndarray
    meta: dict = field(default_factory=dict)

    def predict_proba(self, dense: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        if not len(dense):
            return np.zeros((0, len(self.classes)))
        z = (np.asarray(dense, dtype=np.float32) - self.mean) / self.scale
        h = np.maximum(z @ self.w1 + self.b1, 0.0)
        o = h @ self.w2 + self.b2
        o = o - o.max(axis=1, keepdims=True)
        e = np.exp(o)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float64)

    def save(self, path: str | Path) -> None:
        """Write the arrays (float32) and settings to one safetensors file."""
        from safetensors.numpy import save_file

        names = ("mean", "scale", "w1", "b1", "w2", "b2")
        tensors = {n: np.ascontiguousarray(getattr(self, n), dtype=np.float32) for n in names}
        metadata = {
            "classes": json.dumps(list(self.classes)),
            "meta": json.dumps(self.meta, sort_keys=True),
            "format": FORMAT,
        }
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> DenseMLP:
        """Read a model written by :meth:`save`."""
        from srllm.scoring.hashed import read_weights

        md, arrays = read_weights(path, FORMAT)
        return cls(classes=tuple(json.loads(md["classes"])), meta=json.loads(md["meta"]), **arrays)


def balanced_rows(
    y: np.ndarray, n_classes: int, seed: int = 0, weight: np.ndarray | None = None
) -> np.ndarray:
    """Row indices resampled so that every present class has the same expected weight.

    ``weight``: within a class, a row is drawn in proportion to its weight (default equal).
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=n_classes)
    per = len(y) / max(1, int((counts > 0).sum()))
    parts = []
    for k in range(n_classes):
        if not counts[k]:
            continue
        idx = np.where(y == k)[0]
        p = None if weight is None else weight[idx] / weight[idx].sum()
        parts.append(rng.choice(idx, int(round(per)), replace=True, p=p))
    return np.concatenate(parts)


def fit_mlp(
    dense: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    *,
    hidden: int = 256,
    alpha: float = 1e-2,
    epochs: int = 60,
    seed: int = 0,
    weight: np.ndarray | None = None,
    meta: dict | None = None,
) -> DenseMLP:
    """Fit on class-balanced resampled rows (deterministic for a seed; ``balanced_rows``)."""
    from sklearn.neural_network import MLPClassifier

    dense = np.asarray(dense, dtype=np.float64)
    mean, scale = dense.mean(axis=0), dense.std(axis=0)
    scale[scale < 1e-9] = 1.0
    rows = balanced_rows(y, len(classes), seed, weight)
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=epochs, random_state=seed
    )
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # a fixed epoch budget, not convergence, ends the fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit((dense[rows] - mean) / scale, y[rows])
    w2 = np.zeros((hidden, len(classes)))
    b2 = np.full(len(classes), -50.0)  # a class absent from y never wins
    seen = [int(c) for c in clf.classes_]
    out_w, out_b = clf.coefs_[1], clf.intercepts_[1]
    if len(seen) == 2 and out_w.shape[1] == 1:  # sklearn's binary output is one logit
        w2[:, seen[1]], b2[seen[1]] = out_w[:, 0], out_b[0]
        b2[seen[0]] = 0.0
    else:
        for j, c in enumerate(seen):
            w2[:, c], b2[c] = out_w[:, j], out_b[j]
    return DenseMLP(
        classes=tuple(classes),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        w1=clf.coefs_[0].astype(np.float32),
        b1=clf.intercepts_[0].astype(np.float32),
        w2=w2.astype(np.float32),
        b2=b2.astype(np.float32),
        meta=meta or {},
    )
