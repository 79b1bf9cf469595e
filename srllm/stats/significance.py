"""Significance tests and multiple-comparison corrections (scipy / statsmodels).

Choices, so that a reader of the dashboard knows what a p-value means:

- 2x2 tables (a group against the rest): Pearson's chi-square without Yates' correction
  (``scipy.stats.chi2_contingency(correction=False)``), or Fisher's exact test (two-sided)
  when any expected count is below 5.
- r x 2 tables (all groups at once): Pearson's chi-square; when any expected count is below 5,
  Fisher's exact test for r x c tables by Monte Carlo (``scipy.stats.fisher_exact`` with a
  seeded ``MonteCarloMethod`` of 9,999 tables, so its p-value is never below 1e-4).
- toxicity means: Welch's t test (default) or Mann-Whitney U, group against the rest; for all
  groups at once Welch's one-way ANOVA or Kruskal-Wallis, to match.
- paired binary outcomes: McNemar (``statsmodels``), exact binomial when the discordant count
  is below 25, else chi-square with continuity correction.
- corrections: Holm (step-down, family-wise error) and Benjamini-Hochberg (step-up, false
  discovery rate) from ``statsmodels.stats.multitest.multipletests``; NaN p-values are left
  out of the family and stay NaN.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.stats.contingency import expected_freq
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

MIN_EXPECTED = 5.0
"""Below this expected cell count a chi-square test gives way to Fisher's exact test."""
MCNEMAR_EXACT_BELOW = 25
"""McNemar is exact (binomial) when the discordant pairs number fewer than this."""
FISHER_MC_TABLES = 9_999

MeanTest = Literal["welch", "mannwhitney"]


@dataclass(frozen=True)
class HypothesisTest:
    """One test's result.

    ``statistic`` is the chi-square statistic (``chi2``), the sample odds ratio (``fisher``),
    the probability of the observed table (``fisher_mc``), t (``welch_t``), U
    (``mannwhitney``), F (``welch_anova``), H (``kruskal``), the smaller discordant count
    (``mcnemar_exact``) or chi-square (``mcnemar_chi2``, ``cochran_q``).
    """

    test: str
    statistic: float
    p_value: float
    dof: float | None = None


def two_by_two(table: np.ndarray | Sequence[Sequence[int]]) -> HypothesisTest:
    """Chi-square test of a 2x2 table, or Fisher's exact test if any expected count < 5."""
    t = np.asarray(table, dtype=np.int64)
    if t.shape != (2, 2):
        raise ValueError(f"expected a 2x2 table, got shape {t.shape}")
    if np.min(expected_freq(t)) < MIN_EXPECTED:
        res = sps.fisher_exact(t, alternative="two-sided")
        return HypothesisTest("fisher", float(res.statistic), float(res.pvalue))
    res = sps.chi2_contingency(t, correction=False)
    return HypothesisTest("chi2", float(res.statistic), float(res.pvalue), float(res.dof))


def contingency(table: np.ndarray | Sequence[Sequence[int]], *, seed: int = 0) -> HypothesisTest:
    """Test of independence for an r x c table (rows = groups, columns = outcome).

    Rows and columns that are all zero are dropped first. With fewer than two rows or columns
    left there is nothing to test: ``test == "constant"``, statistic 0, p-value 1.
    """
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return HypothesisTest("constant", 0.0, 1.0)
    if t.shape == (2, 2):
        return two_by_two(t)
    if np.min(expected_freq(t)) < MIN_EXPECTED:
        method = sps.MonteCarloMethod(n_resamples=FISHER_MC_TABLES, rng=np.random.default_rng(seed))
        res = sps.fisher_exact(t, method=method)
        return HypothesisTest("fisher_mc", float(res.statistic), float(res.pvalue))
    res = sps.chi2_contingency(t, correction=False)
    return HypothesisTest("chi2", float(res.statistic), float(res.pvalue), float(res.dof))


def two_sample(x: np.ndarray, y: np.ndarray, *, method: MeanTest = "welch") -> HypothesisTest:
    """Compare two samples of scores: Welch's t test or Mann-Whitney U (two-sided)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if method == "welch":
        if len(x) < 2 or len(y) < 2:
            return HypothesisTest("welch_t", float("nan"), float("nan"))
        if np.ptp(x) == 0 and np.ptp(y) == 0 and x[0] == y[0]:
            return HypothesisTest("welch_t", 0.0, 1.0)  # identical constants: t is 0/0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # near-constant samples
            res = sps.ttest_ind(x, y, equal_var=False)
        return HypothesisTest("welch_t", float(res.statistic), float(res.pvalue), float(res.df))
    if method == "mannwhitney":
        if len(x) == 0 or len(y) == 0:
            return HypothesisTest("mannwhitney", float("nan"), float("nan"))
        res = sps.mannwhitneyu(x, y, alternative="two-sided")
        return HypothesisTest("mannwhitney", float(res.statistic), float(res.pvalue))
    raise ValueError(f"unknown test {method!r}")


def k_sample(samples: Sequence[np.ndarray], *, method: MeanTest = "welch") -> HypothesisTest:
    """All groups at once: Welch's one-way ANOVA, or Kruskal-Wallis for ``mannwhitney``."""
    arrays = [np.asarray(s, dtype=float) for s in samples if len(s)]
    if len(arrays) < 2:
        return HypothesisTest("constant", 0.0, 1.0)
    if method == "welch":
        if any(len(a) < 2 for a in arrays):
            return HypothesisTest("welch_anova", float("nan"), float("nan"))
        if np.ptp(np.concatenate(arrays)) == 0:
            return HypothesisTest("constant", 0.0, 1.0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sps.f_oneway(*arrays, equal_var=False)
        return HypothesisTest("welch_anova", float(res.statistic), float(res.pvalue))
    if method == "mannwhitney":
        if np.ptp(np.concatenate(arrays)) == 0:
            return HypothesisTest("constant", 0.0, 1.0)
        res = sps.kruskal(*arrays)
        return HypothesisTest("kruskal", float(res.statistic), float(res.pvalue))
    raise ValueError(f"unknown test {method!r}")


def mcnemar_test(b: int, c: int, *, exact_below: int = MCNEMAR_EXACT_BELOW) -> HypothesisTest:
    """McNemar's test from the two discordant counts ``b`` (no->yes) and ``c`` (yes->no)."""
    b, c = int(b), int(c)
    if b + c == 0:
        return HypothesisTest("mcnemar_exact", 0.0, 1.0)
    exact = b + c < exact_below
    res = mcnemar(np.array([[0, b], [c, 0]]), exact=exact, correction=True)
    name = "mcnemar_exact" if exact else "mcnemar_chi2"
    return HypothesisTest(name, float(res.statistic), float(res.pvalue), None if exact else 1.0)


def adjust(p_values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Holm and Benjamini-Hochberg adjusted p-values of one family (NaN stays NaN)."""
    p = np.asarray(p_values, dtype=float)
    holm = np.full(p.shape, np.nan)
    bh = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        with _no_full_gc():
            holm[ok] = multipletests(p[ok], method="holm")[1]
            bh[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return holm, bh


@contextlib.contextmanager
def _no_full_gc() -> Iterator[None]:
    """Make ``gc.collect()`` inside the block cheap.

    statsmodels' Holm branch calls ``gc.collect()``, which walks every object of the process
    (0.1 s or more per call once polars, scipy and a dashboard are loaded). ``gc.freeze()``
    hides the existing objects from that walk; they are handed back right after. Left alone
    when someone else has frozen objects on purpose.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
