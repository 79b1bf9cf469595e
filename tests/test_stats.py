"""srllm.stats: every figure against an independent computation (formula or a direct call).

The reference computations here count from the raw rows in plain Python and use closed-form
formulas (Wilson, Welch, Cochran's Q, binomial McNemar, Holm, BH, Cohen's and Fleiss' kappa);
scipy is called directly only for distributions and for the chi-square / Fisher tests.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from srllm.errors import DataError
from srllm.stats import (
    agreement,
    agreement_by_group,
    binary_agreement_by_group,
    cohen_kappa,
    compare_models,
    counterfactual,
    disparity,
    disparity_table,
    fleiss,
)
from srllm.taxonomy import is_toxic

GROUPS = ["Muslim", "Christian", "Jewish", "Hindu", "Atheist"]
HOT = "Muslim"
T = 60
TOL = 1e-6
REFUSED = {"refusal", "harmful_refusal"}


def make_frame(
    *,
    seed: int = 7,
    models: tuple[str, ...] = ("base",),
    hot_refusals: int = 18,
    other_refusals: int = 5,
    unscored: int = 4,
) -> pl.DataFrame:
    """5 groups x 60 templates; the hot group is refused 30% (18/60), the others 8% (5/60).

    Which templates are refused is random (seeded); answers are spread over the non-refusal
    categories; toxicity is Beta(1, 9) with the hot group shifted up. ``unscored`` extra rows
    per model have no category and no toxicity and must be left out everywhere.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for model in models:
        for g in GROUPS:
            k = hot_refusals if g == HOT else other_refusals
            refused = set(rng.choice(T, size=k, replace=False).tolist())
            for t in range(T):
                if t in refused:
                    cat = str(rng.choice(["refusal", "harmful_refusal"], p=[0.8, 0.2]))
                else:
                    cat = str(
                        rng.choice(
                            ["answer", "partial_answer", "failure_to_answer", "harmful_answer"],
                            p=[0.8, 0.1, 0.05, 0.05],
                        )
                    )
                tox = float(rng.beta(1, 9)) + (0.15 if g == HOT else 0.0)
                rows.append(
                    {
                        "model": model,
                        "axis": "religion",
                        "group": g,
                        "template_id": f"T{t:03d}",
                        "prompt_id": f"T{t:03d}-{g}",
                        "sample_idx": 0,
                        "category": cat,
                        "toxicity": min(tox, 1.0),
                    }
                )
        for i in range(unscored):
            g = GROUPS[i % len(GROUPS)]
            rows.append(
                {
                    "model": model,
                    "axis": "religion",
                    "group": g,
                    "template_id": f"T{i:03d}",
                    "prompt_id": f"T{i:03d}-{g}",
                    "sample_idx": 1,
                    "category": None,
                    "toxicity": None,
                }
            )
    return pl.DataFrame(rows)


# -- independent reference computations --------------------------------------------------
def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    z = sps.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def holm(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def bh(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, min(1.0, m / (rank + 1) * p[i]))
        out[i] = running
    return out


def binom_mcnemar(b: int, c: int) -> float:
    n = b + c
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def chi2_mcnemar(b: int, c: int) -> float:
    return float(sps.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1))


def mcnemar_ref(b: int, c: int) -> tuple[str, float]:
    if b + c == 0:
        return "mcnemar_exact", 1.0
    if b + c < 25:
        return "mcnemar_exact", binom_mcnemar(b, c)
    return "mcnemar_chi2", chi2_mcnemar(b, c)


def cochran_q_ref(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    b, k = x.shape
    col = x.sum(axis=0)
    row = x.sum(axis=1)
    big_n = x.sum()
    q = (k - 1) * (k * (col**2).sum() - big_n**2) / (k * big_n - (row**2).sum())
    return float(q), float(sps.chi2.sf(q, k - 1))


def test_test_helpers_match_textbook_examples():
    # Holm / BH on a textbook family; McNemar exact with b=0, c=5 is 2 * 0.5**5.
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert bh(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert binom_mcnemar(0, 5) == pytest.approx(0.0625)


def counts_by_group(df: pl.DataFrame, hit: set[str]) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in df.iter_rows(named=True):
        if r["category"] is None:
            continue
        cell = out[(r["model"], r["group"])]
        cell[0] += 1
        cell[1] += r["category"] in hit
    return {k: (v[0], v[1]) for k, v in out.items()}


# -- disparity ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_frame(models=("base", "tuned"))


def test_rates_and_wilson_intervals_match_the_closed_form(frame):
    table = disparity_table(frame)
    ref = counts_by_group(frame, REFUSED)
    assert table.height == len(ref) == 10
    assert table.columns[:8] == [
        "model",
        "axis",
        "group",
        "n",
        "count",
        "rate",
        "ci_low",
        "ci_high",
    ]
    for r in table.iter_rows(named=True):
        n, k = ref[(r["model"], r["group"])]
        assert (r["n"], r["count"]) == (n, k) == (60, 18 if r["group"] == HOT else 5)
        assert r["rate"] == pytest.approx(k / n, abs=TOL)
        low, high = wilson(k, n)
        assert r["ci_low"] == pytest.approx(low, abs=TOL)
        assert r["ci_high"] == pytest.approx(high, abs=TOL)
    # sorted by model, then rate (highest first)
    keys = list(zip(table["model"], (-table["rate"]).to_list(), strict=True))
    assert keys == sorted(keys)


def test_group_vs_rest_tests_and_corrections_match_scipy_and_hand_formulas(frame):
    table = disparity_table(frame)
    ref = counts_by_group(frame, REFUSED)
    for model in ("base", "tuned"):
        part = table.filter(pl.col("model") == model)
        ps = []
        for r in part.iter_rows(named=True):
            n, k = ref[(model, r["group"])]
            n_rest = sum(v[0] for (m, g), v in ref.items() if m == model and g != r["group"])
            k_rest = sum(v[1] for (m, g), v in ref.items() if m == model and g != r["group"])
            tab = np.array([[k, n - k], [k_rest, n_rest - k_rest]])
            expected = np.outer(tab.sum(1), tab.sum(0)) / tab.sum()
            if expected.min() < 5:
                assert r["test"] == "fisher"
                p = sps.fisher_exact(tab).pvalue
            else:
                assert r["test"] == "chi2"
                res = sps.chi2_contingency(tab, correction=False)
                assert r["statistic"] == pytest.approx(res.statistic, abs=TOL)
                p = res.pvalue
            assert r["p_value"] == pytest.approx(p, rel=TOL, abs=1e-12)
            assert r["rate_rest"] == pytest.approx(k_rest / n_rest, abs=TOL)
            assert r["diff_vs_rest"] == pytest.approx(k / n - k_rest / n_rest, abs=TOL)
            ps.append(p)
        assert part["p_holm"].to_list() == pytest.approx(holm(ps), rel=TOL, abs=1e-12)
        assert part["p_bh"].to_list() == pytest.approx(bh(ps), rel=TOL, abs=1e-12)


def test_the_over_refused_group_is_flagged_after_correction_and_no_other(frame):
    table = disparity_table(frame)
    for model in ("base", "tuned"):
        part = table.filter(pl.col("model") == model)
        flagged = part.filter(pl.col("p_holm") < 0.05)["group"].to_list()
        assert flagged == [HOT]
        assert part.filter(pl.col("p_bh") < 0.05)["group"].to_list() == [HOT]
        assert part["group"][0] == HOT  # highest rate first


def test_overall_test_is_the_chi_square_of_groups_by_outcome(frame):
    res = disparity(frame, n_boot=0)
    ref = counts_by_group(frame, REFUSED)
    tests = res.overall_test()
    for model in ("base", "tuned"):
        tab = np.array(
            [[ref[(model, g)][1], ref[(model, g)][0] - ref[(model, g)][1]] for g in GROUPS]
        )
        chi = sps.chi2_contingency(tab, correction=False)
        row = tests.filter(pl.col("model") == model).row(0, named=True)
        assert row["test"] == "chi2" and row["n_groups"] == 5
        assert row["statistic"] == pytest.approx(chi.statistic, abs=TOL)
        assert row["p_value"] == pytest.approx(chi.pvalue, rel=TOL)
        assert row["p_value"] < 0.001
    # with axes there is also one row per (model, axis); here it repeats the model-wide test
    assert res.tests.filter(pl.col("axis") == "religion").height == 2


def test_small_counts_switch_to_fisher_exact():
    rows = []
    for g, k in (("A", 3), ("B", 0), ("C", 1)):
        for t in range(10):
            rows.append(
                {
                    "model": "m",
                    "group": g,
                    "template_id": t,
                    "category": "refusal" if t < k else "answer",
                }
            )
    df = pl.DataFrame(rows)
    table = disparity_table(df)
    for r in table.iter_rows(named=True):
        k = {"A": 3, "B": 0, "C": 1}[r["group"]]
        tab = [[k, 10 - k], [4 - k, 20 - (4 - k)]]
        assert r["test"] == "fisher"
        assert r["p_value"] == pytest.approx(sps.fisher_exact(tab).pvalue, rel=TOL)
        assert r["statistic"] == pytest.approx(
            sps.fisher_exact(tab).statistic, rel=TOL, nan_ok=True
        )
    overall = disparity(df, n_boot=0).overall_test().row(0, named=True)
    assert overall["test"] == "fisher_mc"
    assert overall["p_value"] == disparity(df, n_boot=0).overall_test()["p_value"][0]  # seeded
    # exact r x c Fisher by enumerating the tables with these margins (rows 10, 10, 10;
    # 4 refusals): the Monte Carlo p-value of 9,999 tables lies within 0.02 of it
    total = math.comb(30, 4)
    observed = math.comb(10, 3) * math.comb(10, 0) * math.comb(10, 1) / total
    probs = [
        math.comb(10, a) * math.comb(10, b) * math.comb(10, 4 - a - b) / total
        for a in range(5)
        for b in range(5 - a)
    ]
    exact = sum(q for q in probs if q <= observed * (1 + 1e-7))
    assert exact == pytest.approx(2 / 7)
    assert abs(overall["p_value"] - exact) < 0.02


def test_harmful_metric_counts_only_harmful_answers(frame):
    table = disparity_table(frame, metric="harmful")
    ref = counts_by_group(frame, {"harmful_answer"})
    for r in table.iter_rows(named=True):
        n, k = ref[(r["model"], r["group"])]
        assert (r["n"], r["count"]) == (n, k)
        low, high = wilson(k, n)
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((low, high), abs=TOL)


def test_toxicity_mean_t_interval_and_welch_test_match_formulas(frame):
    res = disparity(frame, metric="toxicity", n_boot=0)
    vals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in frame.iter_rows(named=True):
        if r["toxicity"] is not None:
            vals[(r["model"], r["group"])].append(r["toxicity"])
    for r in res.by_group.iter_rows(named=True):
        x = np.array(vals[(r["model"], r["group"])])
        rest = np.concatenate(
            [np.array(v) for (m, g), v in vals.items() if m == r["model"] and g != r["group"]]
        )
        n, mean, sd = len(x), x.mean(), x.std(ddof=1)
        half = sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        assert r["n"] == n == 60
        assert r["rate"] == pytest.approx(mean, abs=TOL)
        assert r["ci_low"] == pytest.approx(max(0.0, mean - half), abs=TOL)
        assert r["ci_high"] == pytest.approx(min(1.0, mean + half), abs=TOL)
        toxic = np.array([is_toxic(v) for v in x])
        assert r["count"] == int(toxic.sum())
        assert r["toxic_share"] == pytest.approx(toxic.mean(), abs=TOL)
        # Welch's t by formula
        v1, v2 = x.var(ddof=1) / n, rest.var(ddof=1) / len(rest)
        t = (mean - rest.mean()) / math.sqrt(v1 + v2)
        dof = (v1 + v2) ** 2 / (v1**2 / (n - 1) + v2**2 / (len(rest) - 1))
        assert r["test"] == "welch_t"
        assert r["statistic"] == pytest.approx(t, abs=TOL)
        assert r["p_value"] == pytest.approx(2 * sps.t.sf(abs(t), dof), rel=TOL, abs=1e-12)
    hot = res.by_group.filter(pl.col("group") == HOT)
    assert (hot["p_holm"] < 0.05).all()
    mw = disparity(frame, metric="toxicity", mean_test="mannwhitney", n_boot=0).by_group
    r = mw.row(0, named=True)
    x = np.array(vals[(r["model"], r["group"])])
    rest = np.concatenate(
        [np.array(v) for (m, g), v in vals.items() if m == r["model"] and g != r["group"]]
    )
    assert r["p_value"] == pytest.approx(sps.mannwhitneyu(x, rest).pvalue, rel=TOL)


def test_difference_and_ratio_point_estimates_and_bootstrap(frame):
    res = disparity(frame, n_boot=500, seed=3)
    ref = counts_by_group(frame, REFUSED)
    diff = res.difference()
    ratio = res.ratio()
    to_overall = res.difference(method="to_overall")
    for model in ("base", "tuned"):
        rates = {g: ref[(model, g)][1] / ref[(model, g)][0] for g in GROUPS}
        overall = sum(ref[(model, g)][1] for g in GROUPS) / sum(ref[(model, g)][0] for g in GROUPS)
        d = diff.filter(pl.col("model") == model).row(0, named=True)
        assert d["difference"] == pytest.approx(max(rates.values()) - min(rates.values()), abs=TOL)
        assert d["group_max"] == HOT
        assert ratio.filter(pl.col("model") == model)["ratio"][0] == pytest.approx(
            min(rates.values()) / max(rates.values()), abs=TOL
        )
        assert to_overall.filter(pl.col("model") == model)["difference"][0] == pytest.approx(
            max(abs(r - overall) for r in rates.values()), abs=TOL
        )
        assert d["ci_low"] <= d["difference"] <= d["ci_high"]
        assert d["ci_low"] > 0.05  # a real 22-point gap is not explained by resampling

        # the vectorised bootstrap equals a plain loop over the same template draws
        cells: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
        for r in frame.filter(pl.col("model") == model).iter_rows(named=True):
            if r["category"] is not None:
                n0, k0 = cells[(r["template_id"], r["group"])]
                cells[(r["template_id"], r["group"])] = (n0 + 1, k0 + (r["category"] in REFUSED))
        templates = sorted({t for t, _ in cells})
        weights = np.random.default_rng(3).multinomial(
            len(templates), np.full(len(templates), 1 / len(templates)), size=500
        )
        gaps = []
        for w in weights:
            rs = []
            for g in GROUPS:
                nn = sum(w[i] * cells[(t, g)][0] for i, t in enumerate(templates))
                kk = sum(w[i] * cells[(t, g)][1] for i, t in enumerate(templates))
                rs.append(kk / nn)
            gaps.append(max(rs) - min(rs))
        low, high = np.percentile(gaps, [2.5, 97.5])
        assert (d["ci_low"], d["ci_high"]) == pytest.approx((low, high), abs=TOL)
    assert res.group_max()["group"].to_list() == [HOT, HOT]


def test_axes_give_a_rest_within_the_axis():
    a = make_frame(seed=1, unscored=0)
    b = make_frame(seed=2, hot_refusals=5, unscored=0).with_columns(
        axis=pl.lit("race"), group=pl.col("group") + "_r"
    )
    res = disparity(pl.concat([a, b]), n_boot=100)
    table = res.table()
    assert "axis" in table.columns
    row = table.filter(pl.col("group") == HOT).row(0, named=True)
    assert row["rate_rest"] == pytest.approx(20 / 240, abs=TOL)  # the 4 other religions only
    assert res.difference(by_axis=True).height == 2
    assert set(res.tests["axis"].to_list()) == {None, "religion", "race"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop("category"), "missing column(s) category"),
        (lambda d: d.drop("template_id"), "template_id"),
        (lambda d: d.head(0), "no rows"),
        (lambda d: d.with_columns(category=pl.lit(None, pl.String)), "no scored rows"),
        (lambda d: d.with_columns(category=pl.lit("refused")), "unknown category"),
    ],
)
def test_user_mistakes_raise_one_clear_data_error(frame, mutate, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        disparity_table(mutate(frame))


def test_bad_metric_and_bad_toxicity_raise_data_error(frame):
    with pytest.raises(DataError, match="unknown metric"):
        disparity_table(frame, metric="refusals")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="outside"):
        disparity_table(frame.with_columns(toxicity=pl.lit(1.5)), metric="toxicity")


# -- paired counterfactual analysis ----------------------------------------------------------
def sampled_frame(seed: int = 11) -> pl.DataFrame:
    """3 samples per template and group, rows shuffled, some templates missing a group."""
    rng = np.random.default_rng(seed)
    probs = {"A": 0.45, "B": 0.15, "C": 0.2, "D": 0.15}
    rows = []
    for t in range(40):
        for g, p in probs.items():
            if g == "D" and t % 7 == 0:
                continue  # incomplete template
            for s in range(3):
                cat = "refusal" if rng.random() < p else "answer"
                rows.append(
                    {
                        "model": "m",
                        "group": g,
                        "template_id": f"t{t}",
                        "sample_idx": s,
                        "prompt_id": f"t{t}-{g}",
                        "category": cat,
                    }
                )
    df = pl.DataFrame(rows)
    return df.sample(fraction=1.0, shuffle=True, seed=seed)


def outcomes_by_hand(df: pl.DataFrame, agg: str) -> dict[tuple[str, str], int]:
    cells: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for r in df.iter_rows(named=True):
        cells[(r["template_id"], r["group"])].append((r["sample_idx"], r["category"] in REFUSED))
    out = {}
    for key, vals in cells.items():
        if agg == "majority":
            out[key] = int(sum(v for _, v in vals) / len(vals) >= 0.5)
        else:
            out[key] = int(min(vals)[1])
    return out


@pytest.mark.parametrize("agg", ["majority", "first"])
def test_cochrans_q_and_flip_matrix_match_formulas(agg):
    df = sampled_frame()
    res = counterfactual(df, agg=agg)
    x = outcomes_by_hand(df, agg)
    groups = ["A", "B", "C", "D"]
    templates = sorted({t for t, _ in x})
    complete = [t for t in templates if all((t, g) in x for g in groups)]
    mat = np.array([[x[(t, g)] for g in groups] for t in complete])
    q, p = cochran_q_ref(mat)
    block = res.blocks.row(0, named=True)
    assert (block["n_templates"], block["n_complete"]) == (40, len(complete)) == (40, 34)
    assert block["test"] == "cochran_q" and block["dof"] == 3
    assert block["statistic"] == pytest.approx(q, abs=TOL)
    assert block["p_value"] == pytest.approx(p, rel=TOL)
    assert block["n_inconsistent"] == int((mat.min(1) != mat.max(1)).sum())
    by_group = dict(zip(res.by_group["group"], res.by_group["rate"], strict=True))
    for j, g in enumerate(groups):
        assert by_group[g] == pytest.approx(mat[:, j].mean(), abs=TOL)

    wide = res.flip_matrix("m")
    assert wide["group_a"].to_list() == groups
    pvals = {}
    for a in groups:
        for b in groups:
            if a == b:
                assert wide.filter(pl.col("group_a") == a)[b][0] is None
                continue
            both = [t for t in templates if (t, a) in x and (t, b) in x]
            flips = sum(1 for t in both if x[(t, a)] == 0 and x[(t, b)] == 1)
            rev = sum(1 for t in both if x[(t, a)] == 1 and x[(t, b)] == 0)
            row = res.flips.filter((pl.col("group_a") == a) & (pl.col("group_b") == b)).row(
                0, named=True
            )
            assert (row["n_templates"], row["flips"], row["flips_reverse"]) == (
                len(both),
                flips,
                rev,
            )
            assert row["flip_rate"] == pytest.approx(flips / len(both), abs=TOL)
            assert wide.filter(pl.col("group_a") == a)[b][0] == pytest.approx(flips / len(both))
            name, pv = mcnemar_ref(flips, rev)
            assert row["test"] == name
            assert row["p_value"] == pytest.approx(pv, rel=TOL)
            pvals[tuple(sorted((a, b)))] = (pv, row["p_holm"])
    pairs = sorted(pvals)
    adj = holm([pvals[k][0] for k in pairs])
    assert [pvals[k][1] for k in pairs] == pytest.approx(adj, rel=TOL)


def test_two_groups_use_mcnemar_by_the_binomial_formula():
    df = sampled_frame().filter(pl.col("group").is_in(["A", "B"]))
    res = counterfactual(df)
    x = outcomes_by_hand(df, "majority")
    templates = sorted({t for t, _ in x})
    b = sum(1 for t in templates if x[(t, "A")] == 0 and x[(t, "B")] == 1)
    c = sum(1 for t in templates if x[(t, "A")] == 1 and x[(t, "B")] == 0)
    block = res.blocks.row(0, named=True)
    name, p = mcnemar_ref(b, c)
    assert block["test"] == name == "mcnemar_exact"
    assert block["p_value"] == pytest.approx(p, rel=TOL)
    assert block["p_value"] < 0.05  # A is refused far more often on the same templates


def test_counterfactual_on_the_synthetic_audit_flags_the_hot_group(frame):
    res = counterfactual(frame.filter(pl.col("model") == "base"))
    assert res.has_axis and res.blocks["p_value"][0] < 1e-3
    flips = res.flips.filter(pl.col("group_b") == HOT)
    assert (flips["flip_rate"] > 0.15).all()  # answered for others, refused for the hot group


# -- base vs tuned ----------------------------------------------------------------------------
def tuned_pair(seed: int = 5) -> pl.DataFrame:
    """Base: hot group refused 18/60, others 5/60. Tuned: 13 hot refusals become answers, and
    each other group trades one refusal for one new refusal (rate unchanged)."""
    base = make_frame(seed=seed, unscored=0)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for g in GROUPS:
        part = base.filter(pl.col("group") == g)
        refused = [r["template_id"] for r in part.iter_rows(named=True) if r["category"] in REFUSED]
        answered = [
            r["template_id"] for r in part.iter_rows(named=True) if r["category"] not in REFUSED
        ]
        if g == HOT:
            to_answer, to_refuse = set(rng.choice(refused, 13, replace=False)), set()
        else:
            to_answer = {str(rng.choice(refused))}
            to_refuse = {str(rng.choice(answered))}
        for r in part.iter_rows(named=True):
            cat = r["category"]
            if r["template_id"] in to_answer:
                cat = "answer"
            elif r["template_id"] in to_refuse:
                cat = "refusal"
            rows.append({**r, "model": "tuned", "category": cat})
    return pl.concat([base, pl.DataFrame(rows, schema=base.schema)])


def test_base_vs_tuned_mcnemar_per_group_and_gap_change():
    df = tuned_pair()
    res = compare_models(df, base="base", tuned="tuned", n_boot=400, seed=9)
    hot = res.by_group.filter(pl.col("group") == HOT).row(0, named=True)
    assert (hot["base_only"], hot["tuned_only"], hot["n_pairs"]) == (13, 0, 60)
    assert hot["test"] == "mcnemar_exact"
    assert hot["p_value"] == pytest.approx(binom_mcnemar(13, 0), rel=TOL)
    assert hot["rate_base"] == pytest.approx(18 / 60) and hot["rate_tuned"] == pytest.approx(5 / 60)
    ps = []
    for r in res.by_group.iter_rows(named=True):
        if r["group"] != HOT:
            assert (r["base_only"], r["tuned_only"]) == (1, 1)
        name, p = mcnemar_ref(r["base_only"], r["tuned_only"])
        assert r["test"] == name and r["p_value"] == pytest.approx(p, rel=TOL)
        ps.append(p)
    assert res.by_group["p_holm"].to_list() == pytest.approx(holm(ps), rel=TOL)
    assert res.by_group["p_bh"].to_list() == pytest.approx(bh(ps), rel=TOL)
    assert res.by_group.filter(pl.col("p_holm") < 0.05)["group"].to_list() == [HOT]
    b, c = res.overall["base_only"][0], res.overall["tuned_only"][0]
    assert (b, c) == (17, 4)
    assert res.overall["p_value"][0] == pytest.approx(mcnemar_ref(17, 4)[1], rel=TOL)

    gap = res.gap.filter(pl.col("axis").is_null()).row(0, named=True)
    assert gap["gap_base"] == pytest.approx(13 / 60, abs=TOL)
    assert gap["gap_tuned"] == pytest.approx(0.0, abs=TOL)
    assert gap["change"] == pytest.approx(-13 / 60, abs=TOL)
    assert gap["ci_low"] <= gap["change"] <= gap["ci_high"] < 0  # the gap really shrank

    # the same draws in a plain loop give the same interval
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    pivot = {(r["model"], r["prompt_id"]): r for r in df.iter_rows(named=True)}
    for (model, pid), r in pivot.items():
        if model == "base":
            c_ = cells[(r["template_id"], r["group"])]
            c_[0] += 1
            c_[1] += r["category"] in REFUSED
            c_[2] += pivot[("tuned", pid)]["category"] in REFUSED
    templates = sorted({t for t, _ in cells})
    weights = np.random.default_rng(9).multinomial(
        len(templates), np.full(len(templates), 1 / len(templates)), size=400
    )
    changes = []
    for w in weights:
        rb, rt = [], []
        for g in GROUPS:
            nn = sum(w[i] * cells[(t, g)][0] for i, t in enumerate(templates))
            rb.append(sum(w[i] * cells[(t, g)][1] for i, t in enumerate(templates)) / nn)
            rt.append(sum(w[i] * cells[(t, g)][2] for i, t in enumerate(templates)) / nn)
        changes.append((max(rt) - min(rt)) - (max(rb) - min(rb)))
    low, high = np.percentile(changes, [2.5, 97.5])
    assert (gap["ci_low"], gap["ci_high"]) == pytest.approx((low, high), abs=TOL)


def test_compare_models_checks_its_inputs():
    df = tuned_pair()
    with pytest.raises(DataError, match="'other'"):
        compare_models(df, base="base", tuned="other")
    with pytest.raises(DataError, match="uniquely"):
        compare_models(pl.concat([df, df.head(1)]), base="base", tuned="tuned", n_boot=0)
    with pytest.raises(DataError, match="prompt_id"):
        compare_models(df.drop("prompt_id"), base="base", tuned="tuned", n_boot=0)


# -- agreement ---------------------------------------------------------------------------
CATS = ["answer", "refusal", "harmful_refusal", "partial_answer"]


def cohen_ref(a: list[str], b: list[str]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in set(a) | set(b))
    return (po - pe) / (1 - pe)


def fleiss_ref(ratings: list[list[str]]) -> float:
    m = len(ratings[0])
    cats = sorted({c for r in ratings for c in r})
    table = np.array([[r.count(c) for c in cats] for r in ratings], dtype=float)
    p_i = ((table**2).sum(1) - m) / (m * (m - 1))
    p_j = table.sum(0) / table.sum()
    pe = (p_j**2).sum()
    return float((p_i.mean() - pe) / (1 - pe))


def labels_frame(n_raters: int, seed: int = 4, items: int = 80) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(items):
        truth = str(rng.choice(CATS, p=[0.6, 0.25, 0.05, 0.1]))
        for r in range(n_raters):
            lab = truth if rng.random() < 0.75 else str(rng.choice(CATS))
            rows.append(
                {
                    "generation_id": f"g{i}",
                    "annotator": f"r{r}",
                    "category": lab,
                    "group": GROUPS[i % 3],
                }
            )
    return pl.DataFrame(rows)


def test_cohens_kappa_matches_the_formula_overall_and_by_group():
    lab = labels_frame(2)
    res = agreement(lab)
    by_item = defaultdict(dict)
    for r in lab.iter_rows(named=True):
        by_item[r["generation_id"]][r["annotator"]] = (r["category"], r["group"])
    a = [v["r0"][0] for v in by_item.values()]
    b = [v["r1"][0] for v in by_item.values()]
    assert res.method == "cohen" and res.n_items == 80
    assert res.kappa == pytest.approx(cohen_ref(a, b), abs=TOL)
    assert cohen_kappa(a, b) == pytest.approx(cohen_ref(a, b), abs=TOL)
    assert res.observed == pytest.approx(np.mean([x == y for x, y in zip(a, b, strict=True)]))
    table = agreement_by_group(lab)
    assert table["group"][0] is None and table["kappa"][0] == pytest.approx(res.kappa)
    for g in GROUPS[:3]:
        ga = [v["r0"][0] for v in by_item.values() if v["r0"][1] == g]
        gb = [v["r1"][0] for v in by_item.values() if v["r0"][1] == g]
        row = table.filter(pl.col("group") == g).row(0, named=True)
        assert row["n_items"] == len(ga)
        assert row["kappa"] == pytest.approx(cohen_ref(ga, gb), abs=TOL)


def test_fleiss_kappa_matches_the_formula_and_skips_items_with_fewer_ratings():
    lab = labels_frame(4)
    # one item rated by only three annotators is left out (most items have four ratings)
    lab = lab.filter(~((pl.col("generation_id") == "g0") & (pl.col("annotator") == "r3")))
    res = agreement(lab)
    items = defaultdict(list)
    for r in lab.iter_rows(named=True):
        items[r["generation_id"]].append(r["category"])
    full = [v for v in items.values() if len(v) == 4]
    assert res.method == "fleiss" and res.n_items == 79 and res.n_raters == 4
    assert res.kappa == pytest.approx(fleiss_ref(full), abs=TOL)
    assert fleiss(np.array(full)) == pytest.approx(fleiss_ref(full), abs=TOL)
    # raters who always agree give kappa 1; a quarter of random labels pulls it well below
    assert agreement(lab.with_columns(category=pl.col("generation_id"))).kappa == pytest.approx(1)
    assert 0.1 < res.kappa < 0.7
    by = agreement_by_group(lab)
    g = by.filter(pl.col("group") == GROUPS[1]).row(0, named=True)
    ref = [items[f"g{i}"] for i in range(80) if i % 3 == 1 and len(items[f"g{i}"]) == 4]
    assert g["kappa"] == pytest.approx(fleiss_ref(ref), abs=TOL) and g["n_items"] == len(ref)


def test_agreement_input_errors():
    lab = labels_frame(2)
    with pytest.raises(DataError, match="more than once"):
        agreement(pl.concat([lab, lab.head(1)]))
    with pytest.raises(DataError, match="missing column"):
        agreement(lab.drop("annotator"))
    with pytest.raises(DataError, match="two annotators"):
        agreement(labels_frame(3), method="cohen")


def test_binary_agreement_counts_and_kappa_by_group_with_a_one_class_group():
    """A judge's yes/no call against people's: kappa by hand, sklearn, and the counts."""
    from sklearn.metrics import cohen_kappa_score

    judge = [1, 1, 0, 0, 1, 0] + [0, 0, 0] + [1, None]
    human = [1, 0, 0, 0, 1, 1] + [0, 0, 0] + [None, 0]
    frame = pl.DataFrame(
        {"group": ["X"] * 6 + ["Y"] * 3 + ["X", "Y"], "scorer": judge, "people": human}
    )
    table = binary_agreement_by_group(frame, judge="scorer", human="people")
    rows = {r["group"]: r for r in table.iter_rows(named=True)}
    assert list(rows) == [None, "X", "Y"]  # overall first; rows missing a call left out
    # X: po = 4/6, both say yes half the time so pe = 1/2, kappa = (2/3 - 1/2) / (1/2) = 1/3
    x = rows["X"]
    assert (x["tp"], x["fn"], x["tn"], x["fp"], x["n_items"]) == (2, 1, 2, 1, 6)
    assert x["observed"] == pytest.approx(4 / 6)
    assert x["kappa"] == pytest.approx(1 / 3, abs=TOL)
    assert x["kappa"] == pytest.approx(cohen_kappa_score(judge[:6], human[:6]), abs=TOL)
    # Y: everyone says no: kappa undefined (NaN), not a crash, and the agreement is still 1
    y = rows["Y"]
    assert math.isnan(y["kappa"]) and y["observed"] == 1.0 and y["n_items"] == 3
    assert (y["tp"], y["fn"], y["tn"], y["fp"]) == (0, 0, 3, 0)
    # all nine: po = 7/9, pe = (3/9)^2 + (6/9)^2 = 5/9, kappa = (2/9) / (4/9) = 1/2
    overall = rows[None]
    assert overall["n_items"] == 9 and overall["kappa"] == pytest.approx(0.5, abs=TOL)
    assert overall["kappa"] == pytest.approx(cohen_kappa_score(judge[:9], human[:9]), abs=TOL)
    # booleans give the same table as 1/0
    as_bool = frame.with_columns(pl.col("scorer", "people").cast(pl.Boolean))
    assert binary_agreement_by_group(as_bool, judge="scorer", human="people").equals(table)


def test_binary_agreement_input_errors():
    frame = pl.DataFrame({"group": ["X", "X"], "scorer": [1, 2], "people": [1, 0]})
    with pytest.raises(DataError, match="scorer must be a yes/no call"):
        binary_agreement_by_group(frame, judge="scorer", human="people")
    text = frame.with_columns(pl.col("scorer").cast(pl.String))
    with pytest.raises(DataError, match="yes/no call"):
        binary_agreement_by_group(text, judge="scorer", human="people")
    none = frame.with_columns(
        pl.lit(0).alias("scorer"), pl.lit(None, dtype=pl.Int8).alias("people")
    )
    with pytest.raises(DataError, match="no rows with both calls"):
        binary_agreement_by_group(none, judge="scorer", human="people")
    with pytest.raises(DataError, match="missing column"):
        binary_agreement_by_group(frame.drop("group"), judge="scorer", human="people")


def test_gap_verdict_follows_the_sign_and_the_interval():
    from srllm.stats import gap_verdict

    def verdict(change, lo, hi):
        row = {"gap_base": 0.2, "gap_tuned": 0.2 + change, "change": change}
        return gap_verdict(
            {**row, "ci_low": lo, "ci_high": hi}, base="b", tuned="t", metric="refusal"
        )

    tone, text = verdict(0.0, -0.357, 0.25)  # the case a user saw called "wider"
    assert tone == "info" and "wider" not in text and "narrower" not in text
    assert "not a clear change" in text
    assert verdict(0.0, 0.0, 0.0)[1].count("unchanged") == 1
    assert verdict(-0.1, -0.2, -0.01) == ("success", verdict(-0.1, -0.2, -0.01)[1])
    assert "**narrower**" in verdict(-0.1, -0.2, -0.01)[1]
    tone, text = verdict(0.1, 0.02, 0.2)
    assert tone == "warning" and "**wider**" in text
    tone, text = verdict(0.1, -0.02, 0.2)  # positive but unclear
    assert tone == "info" and "wider" not in text


# -- impact ratio and run history ------------------------------------------------------------
def _refusal_rows(model: str, counts: dict[str, tuple[int, int]], kind: str = "benign") -> list:
    """``counts``: group -> (n, refused); one refusal in four is a harmful refusal."""
    rows = []
    for g, (n, k) in counts.items():
        for t in range(n):
            cat = ("harmful_refusal" if t % 4 == 0 else "refusal") if t < k else "answer"
            rows.append(
                {
                    "model": model,
                    "group": g,
                    "template_id": f"T{t:03d}",
                    "kind": kind,
                    "category": cat,
                }
            )
    return rows


def katz_interval(a: int, n1: int, c: int, n2: int, level: float = 0.95) -> tuple[float, float]:
    """Katz log interval of (a/n1) / (c/n2), by hand."""
    z = sps.norm.ppf(0.5 + level / 2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    rr = (a / n1) / (c / n2)
    return rr * math.exp(-z * se), rr * math.exp(z * se)


def test_impact_ratio_and_katz_interval_match_a_hand_computation():
    from srllm.stats.impact import impact_ratio

    counts = {"A": (80, 4), "B": (50, 10), "C": (60, 24), "D": (40, 40)}
    data = pl.DataFrame(_refusal_rows("m", counts))
    # an unscored row is left out
    data = pl.concat([data, data.head(1).with_columns(category=pl.lit(None, pl.String))])
    out = {r["group"]: r for r in impact_ratio(data).iter_rows(named=True)}
    best_n, best_ans = 80, 76  # A answers 95%
    assert {r["best_group"] for r in out.values()} == {"A"}
    for g, (n, k) in counts.items():
        r = out[g]
        assert (r["n"], r["answer_rate"]) == (n, pytest.approx((n - k) / n))
        assert r["impact_ratio"] == pytest.approx(((n - k) / n) / (best_ans / best_n))
    assert (out["A"]["ci_low"], out["A"]["ci_high"]) == (1.0, 1.0)
    for g in ("B", "C"):
        n, k = counts[g]
        lo, hi = katz_interval(n - k, n, best_ans, best_n)
        assert (out[g]["ci_low"], out[g]["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    lo99 = impact_ratio(data, level=0.99).filter(pl.col("group") == "C")["ci_low"][0]
    assert lo99 == pytest.approx(katz_interval(36, 60, 76, 80, level=0.99)[0], rel=1e-9)
    # four-fifths rule: B answers 80/95 = 0.84 of A's rate, C 0.63, D never answers
    assert [out[g]["below_four_fifths"] for g in "ABCD"] == [False, False, True, True]
    assert out["D"]["impact_ratio"] == 0 and math.isnan(out["D"]["ci_low"])


def test_impact_interval_surrounds_the_ratio_when_the_best_group_is_always_answered():
    """A best group answered every time (a zero cell) keeps the Katz interval of the ratio."""
    from srllm.stats.impact import impact_ratio

    data = pl.DataFrame(_refusal_rows("m", {"A": (10, 0), "B": (10, 6), "C": (10, 10)}))
    out = {r["group"]: r for r in impact_ratio(data).iter_rows(named=True)}
    assert out["B"]["impact_ratio"] == pytest.approx(0.4)
    lo, hi = katz_interval(4, 10, 10, 10)  # 1/c - 1/n2 is 0: no cell needs shifting
    assert (out["B"]["ci_low"], out["B"]["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert out["C"]["impact_ratio"] == 0 and math.isnan(out["C"]["ci_low"])


def test_run_history_tracks_each_groups_benign_refusal_rate_and_the_gap_in_run_order():
    from srllm.stats.history import run_history

    def run(a_refused: int, b_refused: int) -> pl.DataFrame:
        benign = _refusal_rows("m", {"A": (40, a_refused), "B": (40, b_refused)})
        # stereotype-inviting prompts, all refused: not counted for refusals by default
        inviting = _refusal_rows("m", {"A": (10, 10), "B": (10, 10)}, kind="stereotype")
        return pl.DataFrame(benign + inviting)

    runs = [("v1", run(20, 4)), ("v2", run(10, 6)), ("v3", run(5, 5))]
    by_group, gaps = run_history(runs, n_boot=200)
    assert by_group.sort("order", "group").select("run", "group", "n", "rate").rows() == [
        ("v1", "A", 40, 0.5),
        ("v1", "B", 40, 0.1),
        ("v2", "A", 40, 0.25),
        ("v2", "B", 40, 0.15),
        ("v3", "A", 40, 0.125),
        ("v3", "B", 40, 0.125),
    ]
    for r in by_group.iter_rows(named=True):
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(round(r["rate"] * 40), 40))
    assert gaps.sort("order")["run"].to_list() == ["v1", "v2", "v3"]
    assert gaps.sort("order")["difference"].to_list() == pytest.approx([0.4, 0.1, 0.0])
    for r in gaps.iter_rows(named=True):
        assert r["ci_low"] <= r["difference"] <= r["ci_high"]
    # --kind all pools the refused stereotype prompts in: every rate goes up
    pooled, _ = run_history(runs, kind="all", n_boot=50)
    assert pooled.sort("order", "group")["rate"][0] == pytest.approx(30 / 50)
