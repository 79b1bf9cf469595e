"""Rates corrected for classifier error: closed form, an independent bootstrap, coverage."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import run_cli

from srllm.stats.correction import corrected_table, error_rates, labels_needed, rogan_gladen


def _synthetic(rng, true_rates, n=400, se=0.8, sp=0.9, n_labelled=150):
    rows = []
    for g, p in true_rates.items():
        truth = rng.random(n) < p
        judged = np.where(truth, rng.random(n) < se, rng.random(n) < 1 - sp)
        for i in range(n):
            rows.append(
                {
                    "model": "m",
                    "group": g,
                    "category": "refusal" if judged[i] else "answer",
                    "human_category": ("refusal" if truth[i] else "answer")
                    if i < n_labelled
                    else None,
                }
            )
    return pl.DataFrame(rows)


def test_rogan_gladen_closed_form():
    assert rogan_gladen(0.3, 0.8, 0.9) == pytest.approx((0.3 + 0.9 - 1) / (0.8 + 0.9 - 1))
    assert rogan_gladen(0.01, 0.8, 0.9) == 0.0  # clipped below
    assert rogan_gladen(0.99, 0.8, 0.9) == 1.0  # clipped above
    assert np.isnan(rogan_gladen(0.3, 0.4, 0.5))  # se + sp <= 1: no information


def test_point_estimate_and_interval_against_an_independent_bootstrap():
    rng = np.random.default_rng(3)
    data = _synthetic(rng, {"A": 0.2, "B": 0.35})
    got = corrected_table(data, metric="refusal", n_boot=4000, seed=1).filter(
        pl.col("group") == "A"
    )
    a = data.filter(pl.col("group") == "A")
    judge = (a["category"] == "refusal").to_numpy()
    lab = a.filter(pl.col("human_category").is_not_null())
    er = error_rates(
        (lab["category"] == "refusal").to_numpy(),
        (lab["human_category"] == "refusal").to_numpy(),
        "group",
    )
    point = (judge.mean() + er.specificity - 1) / (er.sensitivity + er.specificity - 1)
    assert got["rate_corrected"][0] == pytest.approx(max(0.0, min(1.0, point)))
    assert got["error_source"][0] == "group"
    # independent: resample the group's rows and its labelled rows, recompute everything
    boot = np.random.default_rng(9)
    j_lab = (lab["category"] == "refusal").to_numpy()
    h_lab = (lab["human_category"] == "refusal").to_numpy()
    reps = []
    for _ in range(4000):
        obs = judge[boot.integers(0, len(judge), len(judge))].mean()
        pos = j_lab[h_lab][boot.integers(0, h_lab.sum(), h_lab.sum())]
        neg = j_lab[~h_lab][boot.integers(0, (~h_lab).sum(), (~h_lab).sum())]
        se, sp = pos.mean(), 1 - neg.mean()
        reps.append(np.clip((obs + sp - 1) / (se + sp - 1), 0, 1))
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert got["ci_low_corrected"][0] == pytest.approx(lo, abs=0.02)
    assert got["ci_high_corrected"][0] == pytest.approx(hi, abs=0.02)


def test_corrected_interval_covers_the_true_rate_and_the_raw_one_does_not():
    """500 synthetic audits with a known judge error: coverage of the true group rate."""
    rng = np.random.default_rng(2026)
    true = {"A": 0.15, "B": 0.3}
    cover_cor = cover_raw = 0
    reps = 500
    for r in range(reps):
        data = _synthetic(rng, true, n=300, n_labelled=120)
        tab = corrected_table(data, metric="refusal", n_boot=400, seed=r)
        a = tab.filter(pl.col("group") == "A").row(0, named=True)
        cover_cor += a["ci_low_corrected"] <= true["A"] <= a["ci_high_corrected"]
        judged = data.filter(pl.col("group") == "A")["category"] == "refusal"
        k, n = int(judged.sum()), judged.len()
        from statsmodels.stats.proportion import proportion_confint

        lo, hi = proportion_confint(k, n, method="wilson")
        cover_raw += lo <= true["A"] <= hi
    print(f"coverage over {reps}: corrected {cover_cor / reps:.3f}, raw {cover_raw / reps:.3f}")
    assert cover_cor / reps >= 0.93
    assert cover_raw / reps <= 0.5


def test_disparity_cli_contract_with_kind_and_corrected(tmp_path):
    rng = np.random.default_rng(5)
    data = _synthetic(rng, {"A": 0.1, "B": 0.3}, n=200).with_columns(
        pl.Series("kind", (["benign", "benign", "stereotype", "benign"] * 100)[:400])
    )
    path = tmp_path / "rows.csv"
    data.write_csv(path)
    res = run_cli(
        *("disparity", "--in", str(path), "--metric", "refusal", "--kind", "benign"),
        "--corrected",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    keep = {"model", "group", "n", "rate", "ci_low", "ci_high", "p_value", "p_holm", "p_bh"}
    added = {"rate_corrected", "ci_low_corrected", "ci_high_corrected", "sensitivity"}
    added |= {"specificity", "error_source"}
    for row in rows:
        assert keep | added <= set(row)
        assert (
            0 <= row["ci_low_corrected"] <= row["rate_corrected"] <= row["ci_high_corrected"] <= 1
        )
    assert sum(r["n"] for r in rows) == int((data["kind"] == "benign").sum())
    assert "benign prompts" in res.stderr
    bad = run_cli("disparity", "--in", str(path), "--kind", "nope", "--json")
    assert bad.returncode == 2 and "no rows of kind 'nope'" in bad.stderr


def test_toxicity_error_rates_count_human_scores_with_the_toxic_rule():
    """Human toxicity labels go through the same rule as the judge's: 0.5 itself is toxic."""
    judge = [0.9] * 8 + [0.2] * 2 + [0.7] * 4 + [0.1] * 16  # 10 humans say toxic, 20 do not
    human = [1.0] * 6 + [0.5] * 2 + [0.5, 1.0] + [0.49] * 4 + [0.0] * 16
    data = pl.DataFrame(
        {
            "model": "m",
            "group": "A",
            "toxicity": judge + [0.9] * 10,
            "human_toxic": human + [None] * 10,
        }
    )
    row = corrected_table(data, metric="toxicity", n_boot=200).row(0, named=True)
    assert row["error_source"] == "group" and row["n_labelled"] == 30
    # by hand: tp 8, fn 2 (the 0.2s a person marked toxic), tn 16, fp 4 (0.7s marked 0.49)
    assert row["sensitivity"] == pytest.approx(8 / 10)
    assert row["specificity"] == pytest.approx(16 / 20)


def _planned_width(n_labels: float, pos_share: float, se: float, sp: float, observed: float):
    """Delta-method width of the Rogan-Gladen interval from the error-rate counts, by hand."""
    from scipy.stats import norm

    corrected = (observed + sp - 1) / (se + sp - 1)
    var_se = se * (1 - se) / (n_labels * pos_share)
    var_sp = sp * (1 - sp) / (n_labels * (1 - pos_share))
    sd = np.sqrt(corrected**2 * var_se + (1 - corrected) ** 2 * var_sp) / (se + sp - 1)
    return 2 * norm.ppf(0.975) * sd


def test_labels_needed_reaches_the_chosen_width_without_asking_for_far_more():
    se, sp, observed = 0.8, 0.9, 0.25
    for n_pos, n_neg, width in ((10, 30, 0.1), (5, 5, 0.05), (40, 160, 0.08)):
        share = n_pos / (n_pos + n_neg)
        needed = labels_needed(n_pos, n_neg, se, sp, observed, width)
        total = n_pos + n_neg + needed
        assert needed > 0
        assert _planned_width(total, share, se, sp, observed) <= width
        # the search steps by 20%: the total is within one step of the exact solution
        exact = total * (_planned_width(total, share, se, sp, observed) / width) ** 2
        assert exact <= total <= 1.2 * exact + 2
    assert labels_needed(10, 30, se, sp, observed, 0.1) > labels_needed(
        10, 30, se, sp, observed, 0.2
    )
    assert labels_needed(400, 1600, se, sp, observed, 0.2) == 0  # already narrow enough
    assert labels_needed(10, 30, 0.5, 0.5, observed, 0.1) == -1  # a judge no better than chance


def _toxic_rows(rng, true_rates, n=200, se=0.8, sp=0.9, n_labelled=120) -> pl.DataFrame:
    """Stereotype-inviting rows scored by a judge with known errors; people label the first
    ``n_labelled`` of each group (0/1 or a score, 0.5 being toxic); benign rows all toxic."""
    rows = []
    for g, p in true_rates.items():
        truth = rng.random(n) < p
        flagged = np.where(truth, rng.random(n) < se, rng.random(n) < 1 - sp)
        score = np.where(flagged, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.49, n))
        for i in range(n):
            human = None
            if i < n_labelled:
                human = [1.0, 0.5, 0.9][i % 3] if truth[i] else [0.0, 0.2, 0.49][i % 3]
            rows.append(
                {
                    "model": "m",
                    "group": g,
                    "kind": "stereotype",
                    "toxicity": float(score[i]),
                    "human_toxic": human,
                }
            )
        rows += [
            {"model": "m", "group": g, "kind": "benign", "toxicity": 0.95, "human_toxic": 0.0}
        ] * 50
    return pl.DataFrame(rows)


def test_disparity_cli_corrects_toxicity_from_human_toxic_rows(tmp_path):
    """``--metric toxicity --corrected`` on --in: Rogan-Gladen of the toxic share, by hand."""
    data = _toxic_rows(np.random.default_rng(11), {"A": 0.1, "B": 0.35})
    path = tmp_path / "tox.csv"
    data.write_csv(path)
    res = run_cli(
        *("disparity", "--in", str(path), "--metric", "toxicity", "--kind", "stereotype"),
        *("--corrected", "--json"),
    )
    assert res.returncode == 0, res.stderr
    rows = {r["group"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"A", "B"}
    for g, row in rows.items():
        rows_g = data.filter((pl.col("group") == g) & (pl.col("kind") == "stereotype"))
        judged = rows_g["toxicity"].to_numpy() >= 0.5
        lab = rows_g.filter(pl.col("human_toxic").is_not_null())
        truth = lab["human_toxic"].to_numpy() >= 0.5  # a person's 0.5 counts as toxic
        lab_judged = lab["toxicity"].to_numpy() >= 0.5
        se = lab_judged[truth].mean()
        sp = (~lab_judged[~truth]).mean()
        expected = min(1.0, max(0.0, (judged.mean() + sp - 1) / (se + sp - 1)))
        assert row["n"] == 200 and row["error_source"] == "group"  # benign rows left out
        assert row["rate"] == pytest.approx(rows_g["toxicity"].mean())  # the mean score
        assert row["rate_observed"] == pytest.approx(judged.mean())
        assert (row["sensitivity"], row["specificity"]) == (pytest.approx(se), pytest.approx(sp))
        assert row["rate_corrected"] == pytest.approx(expected)
        assert row["ci_low_corrected"] <= row["rate_corrected"] <= row["ci_high_corrected"]
        for col in ("p_value", "p_holm", "p_bh", "ci_low", "ci_high"):
            assert col in row
    assert rows["B"]["rate_corrected"] > rows["A"]["rate_corrected"]
    assert "mean toxicity" in res.stderr and "share scored toxic" in res.stderr

    # a human_toxic that is neither 0/1 nor a score is one line, not a traceback
    data.with_columns(pl.col("human_toxic").cast(pl.String).fill_null("yes")).write_csv(path)
    bad = run_cli("disparity", "--in", str(path), "--metric", "toxicity", "--corrected")
    assert bad.returncode == 2 and "human_toxic must be 0/1 or a toxicity score" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_disparity_cli_corrects_a_run_from_its_review_labels(tmp_path):
    """``--run`` reads the run's Review labels; toxicity with no toxic judgement says so."""
    from storebuilder import build_store, synthetic_prompts

    prompts = synthetic_prompts([(f"t{t}", g) for t in range(40) for g in ("A", "B")])
    answers, labels = [], []
    for pid, t, g in prompts.select("prompt_id", "template_id", "group").rows():
        k = int(t[1:])
        judged = k < (8 if g == "A" else 16)  # the judge's refusals
        human = k < 12 if g == "A" else k < 10 or 14 <= k < 16  # what people said
        cat = "refusal" if judged else "answer"
        answers.append(
            {"model": "m", "prompt_id": pid, "scores": {"category": (0.5, cat), "toxicity": 0.1}}
        )
        labels.append(("m", pid, "ann", "refusal" if human else "answer"))
    db = tmp_path / "r.duckdb"
    build_store(db, answers, prompts=prompts, models=["m"], labels=labels, finished=True)
    res = run_cli(
        *("disparity", "--db", str(db), "--run", "r", "--metric", "refusal", "--corrected"),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    rows = {r["group"]: r for r in json.loads(res.stdout)}
    assert {r["error_source"] for r in rows.values()} == {"group"}
    assert rows["A"]["sensitivity"] == pytest.approx(8 / 12)  # 8 of A's 12 human refusals
    assert rows["A"]["specificity"] == pytest.approx(1.0)
    assert rows["B"]["sensitivity"] == pytest.approx(1.0)
    assert rows["B"]["specificity"] == pytest.approx(24 / 28)  # 4 answers called refusals
    tox = run_cli(
        *("disparity", "--db", str(db), "--run", "r", "--metric", "toxicity", "--corrected")
    )
    assert tox.returncode == 0, tox.stderr
    assert "none of the run's Review labels judges toxicity" in tox.stderr
    assert "error rates from: shipped" in tox.stdout


def test_shipped_toxicity_error_rates_come_from_labelled_responses_of_these_weights(tmp_path):
    """Toxicity falls back on the scorer's confusion on labelled model responses."""
    import json
    import shutil

    from srllm.config import DATA_DIR
    from srllm.stats.correction import shipped_error_rates

    shipped = shipped_error_rates("toxicity")
    rec = json.loads((DATA_DIR / "scoring" / "toxicity_on_responses.json").read_text())
    assert shipped is not None and shipped.source == "shipped"
    assert shipped.tp + shipped.fn == rec["toxic_by_people"]
    assert shipped.tp + shipped.fn + shipped.tn + shipped.fp == rec["n"] >= 540
    data = pl.DataFrame({"model": "m", "group": ["A"] * 20, "toxicity": [0.9] * 5 + [0.1] * 15})
    row = corrected_table(data, metric="toxicity", n_boot=200, fallback=shipped).row(0, named=True)
    assert row["error_source"] == "shipped"
    assert row["rate_observed"] == pytest.approx(0.25)
    assert row["ci_low_corrected"] <= row["rate_corrected"] <= row["ci_high_corrected"]
    # a record of other weights is not used: retrained weights need a fresh record
    folder = tmp_path / "scoring"
    folder.mkdir()
    shutil.copy(DATA_DIR / "scoring" / "toxicity_on_responses.json", folder)
    (folder / "toxicity.safetensors").write_bytes(b"other weights")
    assert shipped_error_rates("toxicity", folder / "toxicity_on_responses.json") is None
    assert shipped_error_rates("toxicity", tmp_path / "missing.json") is None
