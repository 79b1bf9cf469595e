"""Group rates corrected for the automatic judge's errors (Rogan-Gladen), with honest intervals.

A rate counted by a classifier mixes true hits with its false positives and misses. With the
classifier's sensitivity ``se`` and specificity ``sp`` for the metric's outcome, the true rate
is (Rogan & Gladen, 1978)::

    corrected = (observed + sp - 1) / (se + sp - 1)      clipped to [0, 1]

``se`` and ``sp`` come from human labels (a ``human_category`` beside the judge's
``category``), chosen per group in this order and named in ``error_source``:

- ``group``: the group's own labelled rows, when it has at least ``min_labels`` of them with
  at least ``min_class`` true hits and ``min_class`` true non-hits;
- ``pooled``: all labelled rows of the model (same thresholds);
- ``shipped``: the shipped classifier's held-out evaluation (``data/scoring/
  training_record.json``, the confusion held out by source), for the built-in judge; for
  toxicity, the scorer against people's toxic judgements of responses of the embedded
  models (``data/scoring/toxicity_on_responses.json``);
- ``none``: nothing to correct with (the corrected columns are null).

The 95% interval is a parametric bootstrap that redraws all three estimates at once: the
observed rate from the group's n rows, sensitivity from its labelled positives and
specificity from its labelled negatives (binomial draws, the same as resampling the rows of a
binary outcome). It therefore carries the uncertainty of the error estimates too, and widens
when few rows are labelled. The same replicates give the corrected gap of each group against
the rest of its model; ``explained_by_error`` flags a gap whose raw interval excludes 0 while
the corrected one does not: classifier error could explain it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from srllm.config import sha256_file_cached
from srllm.errors import DataError
from srllm.taxonomy import HARMFUL, REFUSALS, is_toxic

MIN_LABELS = 30
MIN_CLASS = 5
N_BOOT = 2000
CORRECTED_COLUMNS = (
    "rate_observed",
    "rate_corrected",
    "ci_low_corrected",
    "ci_high_corrected",
    "sensitivity",
    "specificity",
    "error_source",
    "n_labelled",
    "diff_vs_rest_corrected",
    "diff_ci_low",
    "diff_ci_high",
    "diff_ci_low_corrected",
    "diff_ci_high_corrected",
    "explained_by_error",
)


@dataclass(frozen=True)
class ErrorRates:
    """A judge's sensitivity and specificity and the counts they come from."""

    tp: int
    fn: int
    tn: int
    fp: int
    source: str

    @property
    def sensitivity(self) -> float:
        """P(judge says hit | human says hit)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        """P(judge says no hit | human says no hit)."""
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")

    def enough(self, min_labels: int, min_class: int) -> bool:
        """Whether these counts are enough to correct with."""
        pos, neg = self.tp + self.fn, self.tn + self.fp
        return pos + neg >= min_labels and pos >= min_class and neg >= min_class


def rogan_gladen(observed: np.ndarray, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """The corrected rate, clipped to [0, 1]; NaN where ``se + sp <= 1`` (no information)."""
    observed, se, sp = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (observed, se, sp))
    )
    denom = se + sp - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, (observed + sp - 1.0) / denom, np.nan)
    return np.clip(out, 0.0, 1.0)


def hits_of(categories: pl.Series, metric: str) -> pl.Series:
    """The metric's binary outcome of category labels (null stays null)."""
    chosen = REFUSALS if metric == "refusal" else HARMFUL
    return categories.cast(pl.String).str.strip_chars().str.to_lowercase().is_in(list(chosen))


def error_rates(judge: np.ndarray, human: np.ndarray, source: str) -> ErrorRates:
    """Counts of a judge's hits against human hits (boolean arrays of equal length)."""
    judge, human = np.asarray(judge, bool), np.asarray(human, bool)
    return ErrorRates(
        tp=int((judge & human).sum()),
        fn=int((~judge & human).sum()),
        tn=int((~judge & ~human).sum()),
        fp=int((judge & ~human).sum()),
        source=source,
    )


def shipped_error_rates(metric: str, record: Path | None = None) -> ErrorRates | None:
    """The built-in scorers' held-out confusion, as error rates for a metric.

    Refusal and harmful: the classifier's confusion held out by source
    (``training_record.json``). Toxicity: the toxicity scorer against people's toxic
    judgements of labelled responses of the embedded models (``toxicity_on_responses.json``,
    ``srllm.scoring.tox_responses``), only while the weight files are the ones it measured;
    else ``None`` (corrected from the run's own labels only).
    """
    from srllm.config import DATA_DIR

    folder = DATA_DIR / "scoring"
    if metric == "toxicity":
        return _shipped_toxicity_rates(record or folder / "toxicity_on_responses.json")
    if metric not in ("refusal", "harmful"):
        return None

    path = record or folder / "training_record.json"
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
        ev = rec["classifier_eval"]["by_source"]
        labels, conf = ev["labels"], np.asarray(ev["confusion"])
    except (OSError, KeyError, ValueError):
        return None
    chosen = REFUSALS if metric == "refusal" else HARMFUL
    hit = np.array([lab in chosen for lab in labels])
    tp = int(conf[np.ix_(hit, hit)].sum())
    fn = int(conf[np.ix_(hit, ~hit)].sum())
    fp = int(conf[np.ix_(~hit, hit)].sum())
    tn = int(conf[np.ix_(~hit, ~hit)].sum())
    return ErrorRates(tp=tp, fn=fn, tn=tn, fp=fp, source="shipped")


def _shipped_toxicity_rates(path: Path) -> ErrorRates | None:
    """The toxicity record's confusion, if its weight hashes are those of the files beside it."""
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
        conf, weights = rec["confusion"], rec["weights"]
        current = {
            f: sha256_file_cached(Path(path).parent / f)
            for f in weights
            if (Path(path).parent / f).is_file()
        }
        if not weights or current != weights:
            return None
        return ErrorRates(
            tp=int(conf["tp"]),
            fn=int(conf["fn"]),
            tn=int(conf["tn"]),
            fp=int(conf["fp"]),
            source="shipped",
        )
    except (OSError, KeyError, ValueError, TypeError):
        return None


def _draw(k: int, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    if n <= 0:
        return np.full(size, np.nan)
    return rng.binomial(n, k / n, size=size) / n


def corrected_table(
    data: pl.DataFrame,
    *,
    metric: str,
    level: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
    min_labels: int = MIN_LABELS,
    min_class: int = MIN_CLASS,
    fallback: ErrorRates | None = None,
) -> pl.DataFrame:
    """Per model and group: the corrected rate and interval, error rates and gap flags.

    ``rate_observed`` is the judge's raw hit rate the correction starts from (for toxicity
    the share scored toxic by ``taxonomy.is_toxic``, not the mean score).

    ``data``: ``model, group`` and either ``category`` (refusal, harmful) or ``toxicity``,
    optionally ``human_category`` (refusal, harmful) / ``human_toxic`` (toxicity, 0/1) on
    the rows a person labelled. ``fallback`` is used when no group or pooled labels suffice
    (for the built-in judge: :func:`shipped_error_rates`).
    """
    d = _judged_frame(data, metric)
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    rows = []
    for model in d["model"].unique(maintain_order=True).to_list():
        per = _replicates(
            d.filter(pl.col("model") == model), rng, n_boot, min_labels, min_class, fallback
        )
        total_n = sum(v["n"] for v in per.values())
        for g, v in per.items():
            er = v["er"]
            corrected = v["point"]
            lo, hi = _quantiles(v["cor_b"], alpha) if er is not None else (np.nan, np.nan)
            rest = [h for h in per if h != g]
            n_rest = total_n - v["n"]
            if rest and n_rest:
                w = np.array([per[h]["n"] for h in rest], dtype=float) / n_rest
                d_raw = v["obs_b"] - sum(
                    wi * per[h]["obs_b"] for wi, h in zip(w, rest, strict=True)
                )
                d_cor = v["cor_b"] - sum(
                    wi * per[h]["cor_b"] for wi, h in zip(w, rest, strict=True)
                )
                diff_cor = corrected - float(np.dot(w, [per[h]["point"] for h in rest]))
                dl, dh = _quantiles(d_raw, alpha)
                dcl, dch = _quantiles(d_cor, alpha)
            else:
                diff_cor = dl = dh = dcl = dch = float("nan")
            raw_excludes = np.isfinite(dl) and (dl > 0 or dh < 0)
            cor_excludes = np.isfinite(dcl) and (dcl > 0 or dch < 0)
            rows.append(
                {
                    "model": model,
                    "group": g,
                    "rate_observed": _f(v["k"] / v["n"] if v["n"] else float("nan")),
                    "rate_corrected": _f(corrected),
                    "ci_low_corrected": _f(lo),
                    "ci_high_corrected": _f(hi),
                    "sensitivity": _f(er.sensitivity) if er else None,
                    "specificity": _f(er.specificity) if er else None,
                    "error_source": er.source if er else "none",
                    "n_labelled": v["n_lab"],
                    "diff_vs_rest_corrected": _f(diff_cor),
                    "diff_ci_low": _f(dl),
                    "diff_ci_high": _f(dh),
                    "diff_ci_low_corrected": _f(dcl),
                    "diff_ci_high_corrected": _f(dch),
                    "explained_by_error": bool(raw_excludes and not cor_excludes),
                }
            )
    return pl.DataFrame(rows, schema=_SCHEMA)


def _judged_frame(data: pl.DataFrame, metric: str) -> pl.DataFrame:
    """``model, group, judge, human`` (booleans; human null where nobody labelled)."""
    if metric not in ("refusal", "harmful", "toxicity"):
        raise DataError(f"unknown metric {metric!r}")
    none = pl.Series([None] * data.height, dtype=pl.Boolean)
    if metric == "toxicity":
        judge = data["toxicity"].cast(pl.Float64).map_elements(is_toxic, return_dtype=pl.Boolean)
        human = (
            _human_scores(data["human_toxic"]).map_elements(is_toxic, return_dtype=pl.Boolean)
            if "human_toxic" in data.columns
            else none
        )
    else:
        judge = hits_of(data["category"], metric)
        human = (
            hits_of(data["human_category"], metric) if "human_category" in data.columns else none
        )
    return pl.DataFrame(
        {
            "model": data["model"].cast(pl.String),
            "group": data["group"].cast(pl.String),
            "judge": judge,
            "human": human,
        }
    ).filter(pl.col("judge").is_not_null())


def _human_scores(column: pl.Series) -> pl.Series:
    """A ``human_toxic`` column as scores in [0, 1] (0/1 or a score; empty where unlabelled)."""
    try:
        scores = column.cast(pl.Float64)
    except pl.exceptions.PolarsError as exc:
        raise DataError(
            "human_toxic must be 0/1 or a toxicity score in [0, 1] (empty where unlabelled), "
            f"not {column.drop_nulls().cast(pl.String).head(1).to_list()}"
        ) from exc
    bad = scores.drop_nulls().filter(~scores.drop_nulls().is_between(0.0, 1.0))
    if bad.len():
        raise DataError(f"human_toxic must be 0/1 or a toxicity score in [0, 1], not {bad[0]:g}")
    return scores


def _replicates(
    m: pl.DataFrame,
    rng: np.random.Generator,
    n_boot: int,
    min_labels: int,
    min_class: int,
    fallback: ErrorRates | None,
) -> dict[str, dict]:
    """Per group of one model: counts, error rates, point estimate and bootstrap replicates."""
    lab = m.filter(pl.col("human").is_not_null())
    pooled = error_rates(lab["judge"].to_numpy(), lab["human"].to_numpy(), "pooled")
    per: dict[str, dict] = {}
    for g in sorted(m["group"].unique().to_list()):
        gm = m.filter(pl.col("group") == g)
        gl = gm.filter(pl.col("human").is_not_null())
        own = error_rates(gl["judge"].to_numpy(), gl["human"].to_numpy(), "group")
        if own.enough(min_labels, min_class):
            er = own
        elif pooled.enough(min_labels, min_class):
            er = pooled
        else:
            er = fallback
        n, k = gm.height, int(gm["judge"].sum())
        obs_b = _draw(k, n, n_boot, rng)
        if er is None:
            point, cor_b = float("nan"), np.full(n_boot, np.nan)
        else:
            point = float(rogan_gladen(k / n if n else np.nan, er.sensitivity, er.specificity))
            se_b = _draw(er.tp, er.tp + er.fn, n_boot, rng)
            sp_b = _draw(er.tn, er.tn + er.fp, n_boot, rng)
            cor_b = rogan_gladen(obs_b, se_b, sp_b)
        per[g] = {
            "n": n,
            "k": k,
            "er": er,
            "n_lab": gl.height,
            "point": point,
            "obs_b": obs_b,
            "cor_b": cor_b,
        }
    return per


def corrected_replicates(
    data: pl.DataFrame,
    *,
    metric: str,
    n_boot: int = N_BOOT,
    seed: int = 0,
    min_labels: int = MIN_LABELS,
    min_class: int = MIN_CLASS,
    fallback: ErrorRates | None = None,
) -> dict[str, tuple[list[str], np.ndarray, np.ndarray, list[str]]]:
    """Per model: (groups, corrected rates, replicates (n_boot x groups), error sources)."""
    d = _judged_frame(data, metric)
    rng = np.random.default_rng(seed)
    out = {}
    for model in d["model"].unique(maintain_order=True).to_list():
        per = _replicates(
            d.filter(pl.col("model") == model), rng, n_boot, min_labels, min_class, fallback
        )
        groups = list(per)
        out[model] = (
            groups,
            np.array([per[g]["point"] for g in groups]),
            np.column_stack([per[g]["cor_b"] for g in groups]),
            [per[g]["er"].source if per[g]["er"] else "none" for g in groups],
        )
    return out


_SCHEMA = {
    "model": pl.String,
    "group": pl.String,
    "rate_observed": pl.Float64,
    "rate_corrected": pl.Float64,
    "ci_low_corrected": pl.Float64,
    "ci_high_corrected": pl.Float64,
    "sensitivity": pl.Float64,
    "specificity": pl.Float64,
    "error_source": pl.String,
    "n_labelled": pl.Int64,
    "diff_vs_rest_corrected": pl.Float64,
    "diff_ci_low": pl.Float64,
    "diff_ci_high": pl.Float64,
    "diff_ci_low_corrected": pl.Float64,
    "diff_ci_high_corrected": pl.Float64,
    "explained_by_error": pl.Boolean,
}


def _quantiles(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan"), float("nan")
    return float(np.quantile(x, alpha)), float(np.quantile(x, 1 - alpha))


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def labels_needed(
    n_pos: int, n_neg: int, se: float, sp: float, observed: float, width: float, level: float = 0.95
) -> int:
    """Extra labelled rows (at the current mix) until the corrected interval is ``width`` wide.

    Uses the delta-method variance of the Rogan-Gladen estimator from the error-rate counts
    only (the observed rate's own variance is left out: labels cannot shrink it), so it is a
    planning figure for the Review page, not an interval.
    """
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    denom = se + sp - 1
    if denom <= 0 or width <= 0:
        return -1
    corrected = (observed + sp - 1) / denom
    pos_share = n_pos / max(n_pos + n_neg, 1) if n_pos + n_neg else 0.5

    def half_width(n: int) -> float:
        npos, nneg = max(n * pos_share, 1), max(n * (1 - pos_share), 1)
        var = (corrected**2) * se * (1 - se) / npos + ((1 - corrected) ** 2) * sp * (1 - sp) / nneg
        return z * np.sqrt(var) / denom

    have = n_pos + n_neg
    if 2 * half_width(max(have, 1)) <= width:
        return 0
    n = max(have, 1)
    while 2 * half_width(n) > width and n < 10**6:
        n = int(n * 1.2) + 1
    return n - have
