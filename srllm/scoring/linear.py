"""Linear models stored as plain arrays (safetensors), evaluated with numpy.

Training uses scikit-learn; the shipped files hold only numbers and JSON metadata, never a
pickle, and inference is a dot product.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srllm.errors import ConfigError


@dataclass(frozen=True)
class LinearModel:
    """Standardise -> (optional PCA block) -> logistic regression (binary or multinomial).

    ``x`` given to :meth:`predict_proba` is the concatenation of ``dense`` features and, when
    ``proj`` is set, ``(block - proj_mean) @ proj.T`` of a second block (an embedding).
    """

    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (k, d); k == 1 for a binary model (probability of classes[1])
    intercept: np.ndarray  # (k,)
    proj_mean: np.ndarray | None = None
    proj: np.ndarray | None = None
    meta: dict | None = None

    def design(self, dense: np.ndarray | None, block: np.ndarray | None = None) -> np.ndarray:
        """The standardised design matrix from dense features and an optional block."""
        parts = []
        if dense is not None and dense.shape[1]:
            parts.append(np.asarray(dense, dtype=np.float64))
        if self.proj is not None:
            if block is None:
                raise ValueError("this model needs the embedding block")
            centred = np.asarray(block, dtype=np.float64) - self.proj_mean
            parts.append(centred @ self.proj.T)
        x = np.hstack(parts) if len(parts) > 1 else parts[0]
        return (x - self.mean) / self.scale

    def predict_proba(
        self, dense: np.ndarray | None, block: np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        z = self.design(dense, block) @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            p1 = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -50, 50)))
            return np.column_stack([1.0 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> None:
        """Write arrays and metadata to one safetensors file."""
        from safetensors.numpy import save_file

        tensors = {
            "mean": np.asarray(self.mean, dtype=np.float64),
            "scale": np.asarray(self.scale, dtype=np.float64),
            "coef": np.asarray(self.coef, dtype=np.float64),
            "intercept": np.asarray(self.intercept, dtype=np.float64),
        }
        if self.proj is not None:
            tensors["proj_mean"] = np.asarray(self.proj_mean, dtype=np.float64)
            tensors["proj"] = np.asarray(self.proj, dtype=np.float64)
        metadata = {
            "classes": json.dumps(list(self.classes)),
            "feature_names": json.dumps(list(self.feature_names)),
            "meta": json.dumps(self.meta or {}, sort_keys=True),
        }
        # safetensors writes the raw buffer: make every array C-contiguous first (sklearn's
        # coef_ and PCA components can be Fortran-ordered).
        tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> LinearModel:
        """Read a model written by :meth:`save`."""
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            raise ConfigError(
                f"scorer weights not found at {path}: run python -m srllm.scoring.train_scorers"
            )
        with safe_open(str(path), framework="np") as f:
            md = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        return cls(
            classes=tuple(json.loads(md.get("classes", "[]"))),
            feature_names=tuple(json.loads(md.get("feature_names", "[]"))),
            mean=arrays["mean"],
            scale=arrays["scale"],
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            proj_mean=arrays.get("proj_mean"),
            proj=arrays.get("proj"),
            meta=json.loads(md.get("meta", "{}")),
        )


def fit_linear(
    dense: np.ndarray | None,
    y: np.ndarray,
    classes: tuple[str, ...],
    *,
    feature_names: tuple[str, ...] = (),
    block: np.ndarray | None = None,
    n_components: int = 0,
    standardise: bool = True,
    c: float = 1.0,
    sample_weight: np.ndarray | None = None,
    meta: dict | None = None,
) -> LinearModel:
    """Fit a :class:`LinearModel` with scikit-learn (deterministic: lbfgs, fixed PCA seed)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    parts = []
    if dense is not None and dense.shape[1]:
        parts.append(np.asarray(dense, dtype=np.float64))
    proj_mean = proj = None
    names = list(feature_names)
    if block is not None:
        block = np.asarray(block, dtype=np.float64)
        if n_components:
            pca = PCA(n_components=n_components, random_state=0).fit(block)
            proj_mean, proj = pca.mean_, pca.components_
        else:
            proj_mean, proj = np.zeros(block.shape[1]), np.eye(block.shape[1])
        parts.append((block - proj_mean) @ proj.T)
        names += [f"emb{i}" for i in range(proj.shape[0])]
    x = np.hstack(parts) if len(parts) > 1 else parts[0]
    if standardise:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
    else:
        mean, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit((x - mean) / scale, y, sample_weight=sample_weight)
    return LinearModel(
        classes=classes,
        feature_names=tuple(names),
        mean=mean,
        scale=scale,
        coef=clf.coef_.astype(np.float64),
        intercept=clf.intercept_.astype(np.float64),
        proj_mean=proj_mean,
        proj=proj,
        meta=meta,
    )
