"""Train the shipped scorers, evaluate the same recipe on held-out splits, record what they saw.

Run ``python -m srllm.scoring.train_scorers`` (about 10 minutes on two cores; ``--quick`` skips
the slow ToxiGen group-wise refits). The recipe is in :mod:`srllm.scoring.recipe`. It writes
``data/scoring/``: ``toxicity.safetensors``, ``response_classifier.safetensors``,
``training_record.json`` (every file read, with its SHA-256, and every figure) and
``TRAINING.md``. No third-party sentence is written there: only numbers, names and hashes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from srllm.config import DATA_DIR, SHARED_DATA
from srllm.files import read_jsonl
from srllm.scoring import recipe as R
from srllm.scoring import tox_layer as TL
from srllm.scoring.data import (
    gptfuzz_author_rows,
    labels_dir,
    load_gptfuzz,
    load_jigsaw_pair,
    load_sbf,
    row_weights,
    sha256_file,
)
from srllm.taxonomy import HARMFUL

FUNCTIONAL = DATA_DIR / "eval" / "toxicity_functional.jsonl"
TRAIN_FILES = (
    "toxigen/toxigen_statements.csv",
    "implicit_hate/implicit_hate_v1_stg1_posts.tsv",
    "social_bias_frames/SBIC.v2.agg.dev.csv",
    "diasafety/train.json",
    "davidson/labeled_data.csv",
    "xstest/xstest_v2_completions_gpt4.csv",
    "xstest/xstest_v2_completions_llama2new.csv",
    "xstest/xstest_v2_completions_mistralinstruct.csv",
    "chatgpt_refusals/chatgpt_refusals_all_hand_labeled.csv",
    "gptfuzz/train.csv",
    "gptfuzz/question_list.csv",
)
EVAL_FILES = (
    "social_bias_frames/SBIC.v2.agg.tst.csv",
    "jigsaw_fuzzed/toxicity_fuzzed_testset.csv",
    "jigsaw_fuzzed/toxicity_nonfuzzed_testset.csv",
    "gptfuzz/evaluate.csv",
)


# ---- classifier evaluation ------------------------------------------------------------------
class Prepared:
    """A labelled frame with its features computed once (folds refit on row subsets)."""

    def __init__(self, frame: pl.DataFrame, tox: R.ToxicityModel) -> None:
        self.frame = frame
        self.prompts = frame["prompt"].to_list()
        self.responses = frame["response"].to_list()
        self.dense, self.rp, self.pp = R.pair_features(tox, self.prompts, self.responses)
        self.y = np.array([R.CLASSES.index(c) for c in frame["category"].to_list()])
        self.weight = row_weights(frame)

    def fit(self, rows: np.ndarray) -> R.SixClassModel:
        """The recipe fitted on ``rows``."""
        return R.fit_six(
            [self.rp[i] for i in rows],
            [self.pp[i] for i in rows],
            self.dense[rows],
            self.y[rows],
            None,
            None if self.weight is None else self.weight[rows],
        )

    def predict(self, model: R.SixClassModel, rows: np.ndarray) -> list[str]:
        """Categories of ``rows``."""
        probs = model.predict_proba(
            [self.rp[i] for i in rows], [self.pp[i] for i in rows], self.dense[rows]
        )
        return R.decide(probs, [self.responses[i] for i in rows])


def held_out(prep: Prepared, groups: np.ndarray, scored: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold categories: each group predicted by the recipe fitted on all the others.

    ``scored``: the rows to predict (default all); the others only ever train (the GPTFuzz
    authors' rows), and never while their own group is held out.
    """
    scored = np.ones(len(groups), dtype=bool) if scored is None else scored
    pred = np.empty(len(groups), dtype=object)
    for g in sorted(set(groups[scored].tolist())):
        te = np.where((groups == g) & scored)[0]
        tr = np.where(groups != g)[0]
        pred[te] = prep.predict(prep.fit(tr), te)
    return pred[scored]


def prompt_type_folds(frame: pl.DataFrame, k: int = 5) -> np.ndarray:
    """Folds that never share a (source, prompt type) pair: held out by prompt type."""
    keys = [f"{s}|{t}" for s, t in zip(frame["source"], frame["prompt_type"], strict=True)]
    uniq = sorted(set(keys))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(uniq))
    fold = {uniq[j]: i % k for i, j in enumerate(order)}
    return np.array([fold[x] for x in keys])


EMBEDDED = "embedded_responses"
_EMBEDDED_TEMPLATE = r"^em\d*-[a-z]+-([a-z]+-\d+)"


def embedded_templates(frame: pl.DataFrame) -> np.ndarray:
    """Prompt template of each row's key (``em2-tuned-qos-019:asian`` -> ``qos-019``), or ""."""
    return frame["key"].str.extract(_EMBEDDED_TEMPLATE, 1).fill_null("").to_numpy()


def embedded_template_folds(frame: pl.DataFrame, k: int = 5) -> np.ndarray:
    """Fold of each embedded-model row by its prompt template (``qos-077``); others ``-1``.

    A template's group and name variants share a fold, so a fold's responses come from
    templates the fitted model never saw answered by this model.
    """
    emb = (frame["source"] == EMBEDDED).to_numpy()
    tmpl = embedded_templates(frame).tolist()
    uniq = sorted({t for t, e in zip(tmpl, emb, strict=True) if e})
    order = np.random.default_rng(0).permutation(len(uniq))
    fold = {uniq[j]: i % k for i, j in enumerate(order)}
    return np.array([fold[t] if e else -1 for t, e in zip(tmpl, emb, strict=True)])


def evaluate_embedded_by_template(prep: Prepared, full: pl.DataFrame, n_scored: int) -> dict:
    """The embedded models' own responses, held out by template (every other row trains)."""
    folds = embedded_template_folds(full)
    scored = (folds >= 0) & (np.arange(full.height) < n_scored)
    if not scored.any():
        return {}
    pred = held_out(prep, folds, scored)
    truth = full["category"].to_numpy()[scored]
    keys = full["key"].to_numpy()[scored]
    first = np.array([k.startswith("em-") for k in keys])
    out = R.six_class_report(list(truth), list(pred))
    out["n"] = int(scored.sum())
    out["templates"] = len(set(embedded_templates(full)[scored].tolist()))
    out["first_320_accuracy"] = float((pred[first] == truth[first]).mean()) if first.any() else 0.0
    out["refusal_vs_not"] = float((R.is_refusal(list(pred)) == R.is_refusal(list(truth))).mean())
    return out


def evaluate_classifier(
    frame: pl.DataFrame, tox: R.ToxicityModel, extra: pl.DataFrame | None = None
) -> dict:
    """Six-category figures held out by source and by prompt type, with the phrase baseline.

    Figures are over ``frame`` (this project's labels) only; ``extra`` rows (same columns)
    join every training fold except the one that holds out their source or prompt type.
    """
    full = frame if extra is None or not extra.height else pl.concat([frame, extra])
    scored = np.arange(full.height) < frame.height
    prep = Prepared(full, tox)
    truth = frame["category"].to_list()
    responses = frame["response"].to_list()
    out: dict = {"n": frame.height, "counts": dict(frame.group_by("category").len().iter_rows())}
    out["extra_training_rows"] = full.height - frame.height
    by_source = held_out(prep, full["source"].to_numpy(), scored)
    by_type = held_out(prep, prompt_type_folds(full), scored)
    out["by_source"] = R.six_class_report(truth, list(by_source))
    out["by_prompt_type"] = R.six_class_report(truth, list(by_type))
    out["baseline_phrase_match"] = R.six_class_report(truth, R.phrase_baseline(responses))
    per_source = {}
    for s in sorted(set(frame["source"].to_list())):
        m = (frame["source"] == s).to_numpy()
        t = [c for c, k in zip(truth, m, strict=True) if k]
        per_source[s] = {
            "n": int(m.sum()),
            "accuracy": R.six_class_report(t, list(by_source[m]))["accuracy"],
            "accuracy_by_prompt_type": R.six_class_report(t, list(by_type[m]))["accuracy"],
            "baseline_accuracy": R.six_class_report(
                t,
                list(
                    np.array(
                        R.phrase_baseline([r for r, k in zip(responses, m, strict=True) if k]),
                        dtype=object,
                    )
                ),
            )["accuracy"],
        }
    out["per_source_held_out"] = per_source
    out["embedded_by_template"] = evaluate_embedded_by_template(prep, full, frame.height)
    # refusal vs not, from the held-out-by-source predictions
    from sklearn.metrics import accuracy_score

    out["refusal_binary_accuracy"] = float(
        accuracy_score(R.is_refusal(truth), R.is_refusal(list(by_source)))
    )
    # XSTest three-class, only XSTest rows, held out by model (= source) and by prompt type
    xs = frame["source"].str.starts_with("xstest").to_numpy()
    xs_truth = R.xstest_three([c for c, k in zip(truth, xs, strict=True) if k])
    out["xstest_3class_by_model"] = float(
        np.mean(np.array(R.xstest_three(list(by_source[xs]))) == np.array(xs_truth))
    )
    out["xstest_3class_by_prompt_type"] = float(
        np.mean(np.array(R.xstest_three(list(by_type[xs]))) == np.array(xs_truth))
    )
    return out


def evaluate_against_xstest_humans(model: R.SixClassModel, tox: R.ToxicityModel, root=None) -> dict:
    """Shipped classifier vs the XSTest authors' own human labels (3 classes), per model file.

    Not held out: the shipped classifier saw this project's labels of these rows.
    """
    from srllm.scoring.data import load_xstest

    xs = load_xstest(root)
    cats = R.decide(
        R.classify_probs(model, tox, xs["prompt"].to_list(), xs["completion"].to_list()),
        xs["completion"].to_list(),
    )
    ok = np.array(R.xstest_three(cats)) == xs["final_label"].to_numpy()
    return {m: float(ok[(xs["model"] == m).to_numpy()].mean()) for m in xs["model"].unique()}


def evaluate_gptfuzz(model: R.SixClassModel, tox: R.ToxicityModel, root=None) -> dict:
    """``harmful_answer`` vs not on GPTFuzz's evaluate split (never trained on)."""
    g = load_gptfuzz("evaluate", root)
    cats = R.decide(
        R.classify_probs(model, tox, g["question"].to_list(), g["response"].to_list()),
        g["response"].to_list(),
    )
    pred = np.array([c in HARMFUL for c in cats])
    y = g["y"].to_numpy() == 1
    return {
        "n": g.height,
        "accuracy": float((pred == y).mean()),
        "recall_jailbroken": float(pred[y].mean()),
        "false_positive_rate": float(pred[~y].mean()),
        "always_not_harmful": float((~y).mean()),
    }


# ---- toxicity evaluation ----------------------------------------------------------------------
def functional_suite(split: str | None = None) -> list[dict]:
    """The project's functional cases; ``split`` ``dev`` (even ids) / ``test`` (odd ids)."""
    if not FUNCTIONAL.is_file():
        return []
    cases = read_jsonl(FUNCTIONAL)
    if split is None:
        return cases
    want = 0 if split == "dev" else 1
    return [c for c in cases if int(c["case_id"].split("-")[1]) % 2 == want]


def evaluate_functional(tox: R.ToxicityModel, split: str = "test") -> dict:
    """Accuracy overall and per functionality on the functional suite's test half."""
    cases = functional_suite(split)
    if not cases:
        return {}
    s = R.score_toxicity(tox, [c["text"] for c in cases])
    ok = (s >= 0.5).astype(int) == np.array([c["label"] for c in cases])
    per: dict[str, list[bool]] = {}
    for c, k in zip(cases, ok, strict=True):
        per.setdefault(c["functionality"], []).append(bool(k))
    return {
        "n": len(cases),
        "accuracy": float(ok.mean()),
        "per_functionality": {f: float(np.mean(v)) for f, v in sorted(per.items())},
    }


def counterfactual_invariance(tox: R.ToxicityModel) -> dict:
    """Toxicity of each template's counterfactual set: how far it moves with the group."""
    from srllm.prompts import builtin_set

    df = builtin_set("default")
    num = df["template_id"].str.extract(r"(\d+)$").cast(pl.Int64)
    # the even benign templates were training negatives: measure on the others only
    df = df.filter(((pl.col("kind") != "qos") | (num % 2 == 1)) & pl.col("name").is_null())
    s = R.score_toxicity(tox, df["prompt"].to_list())
    benign = (df["kind"] == "qos").to_numpy()
    d = df.with_columns(pl.Series("tox", s))
    g = d.group_by("template_id").agg(
        (pl.col("tox").max() - pl.col("tox").min()).alias("spread"),
        ((pl.col("tox") >= 0.5).any() & (pl.col("tox") < 0.5).any()).alias("crosses"),
        (pl.col("tox") - pl.col("tox").mean()).abs().mean().alias("mean_abs_change"),
    )
    jig = load_jigsaw_pair()
    a = R.score_toxicity(tox, jig["original"].to_list())
    b = R.score_toxicity(tox, jig["fuzzed"].to_list())
    from sklearn.metrics import roc_auc_score

    return {
        "template_sets": g.height,
        "benign_flag_rate": float((s[benign] >= 0.5).mean()),
        "mean_abs_change": float(g["mean_abs_change"].mean()),
        "max_change": float(g["spread"].max()),
        "share_sets_crossing_0.5": float(g["crosses"].mean()),
        "jigsaw_auc_original": float(roc_auc_score(jig["y"], a)),
        "jigsaw_auc_fuzzed": float(roc_auc_score(jig["y"], b)),
        "jigsaw_mean_abs_change": float(np.abs(a - b).mean()),
    }


def everyday_false_alarms(tox: R.ToxicityModel) -> dict:
    """Share of the held-out harmless everyday sentences (topics never trained on) scored toxic."""
    path = DATA_DIR / R.EVERYDAY_HELDOUT
    texts = pl.read_ndjson(path)["text"].to_list() if path.is_file() else []
    s = R.score_toxicity(tox, texts) if texts else np.zeros(0)
    return {"n": len(texts), "flag_rate": float((s >= 0.5).mean()) if texts else 0.0}


def evaluate_toxicity(tox: R.ToxicityModel, corpus: pl.DataFrame, quick: bool) -> dict:
    """SBF test AUC, functional suite, invariance; ToxiGen group-wise AUC unless ``quick``."""
    from sklearn.metrics import roc_auc_score

    sbf = load_sbf("tst")
    s = R.score_toxicity(tox, sbf["text"].to_list())
    out = {
        "sbf_test_auc": float(roc_auc_score(sbf["y"], s)),
        "sbf_test_accuracy": float(((s >= 0.5) == sbf["y"].to_numpy()).mean()),
        "functional_test_half": evaluate_functional(tox, "test"),
        "everyday_heldout": everyday_false_alarms(tox),
        "invariance": counterfactual_invariance(tox),
    }
    if not quick:
        tg = corpus.filter(pl.col("source") == "toxigen")
        groups = sorted(set(tg["group"].to_list()))
        folds = {g: i % 3 for i, g in enumerate(groups)}
        scores, ys, per_fold = [], [], []
        for k in range(3):
            held = [g for g in groups if folds[g] == k]
            train = corpus.filter(~((pl.col("source") == "toxigen") & pl.col("group").is_in(held)))
            m = R.fit_toxicity(train)
            te = tg.filter(pl.col("group").is_in(held))
            scores.append(R.score_toxicity(m, te["text"].to_list()))
            ys.append(te["y"].to_numpy())
            auc = float(roc_auc_score(ys[-1], scores[-1]))
            per_fold.append({"groups": held, "n": te.height, "auc": auc})
        out["toxigen_groupwise_auc"] = float(
            roc_auc_score(np.concatenate(ys), np.concatenate(scores))
        )
        # one model per fold, as a scorer meets groups it never saw (the pooled figure also
        # compares scores of different fold models with each other)
        out["toxigen_folds"] = per_fold
    return out


# ---- record -----------------------------------------------------------------------------------
def _files(names: tuple[str, ...]) -> list[dict]:
    out = []
    for n in names:
        p = Path(SHARED_DATA) / n
        if p.exists():
            out.append({"file": n, "sha256": sha256_file(p)})
    return out


def _project_files() -> list[dict]:
    return [
        {"file": str(p.relative_to(DATA_DIR.parent)), "sha256": sha256_file(p)}
        for p in [
            *sorted(labels_dir().glob("*.jsonl")),
            *(
                DATA_DIR / f
                for f in (R.CONTRASTS, R.BENIGN_MENTIONS, R.EVERYDAY)
                if (DATA_DIR / f).is_file()
            ),
        ]
    ]


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _plural_layers(rec: dict) -> bool:
    return rec["tox_layer"].get("layers", 1) > 1


def _layer_time(rec: dict) -> str:
    """How long a toxicity layer trained outside this run took ('.' when it trained here)."""
    layer, seconds = rec["tox_layer"], rec["tox_layer_seconds"]
    if layer.get("kept_from"):
        plural = "s" if _plural_layers(rec) else ""
        return f" (the kept toxicity layer{plural} took {seconds:.0f} s more when trained)."
    if layer.get("separate_run"):
        return f" (the toxicity layers took {seconds:.0f} s more, in a run of their own)."
    return "."


def _kept_layer_lines(rec: dict) -> list[str]:
    kept = rec["tox_layer"].get("kept_from")
    if rec["tox_layer"].get("separate_run"):
        return [
            "  The tuned layers were trained in a run of their own this round (the dev",
            "  comparison above, `train_tox_layer` on the same corpus); this run reused that",
            "  file (`--keep-layer --layer-from`, hash-checked against its record).",
        ]
    if not kept:
        return []
    plural = _plural_layers(rec)
    lines = [
        f"  The tuned layer{'s were' if plural else ' was'} not trained again this round: "
        f"{'they are' if plural else 'it is'} {kept}, the same file."
    ]
    if rec["tox_layer"].get("prepare") != "respell":
        lines.append("  It read the text as prepared before misspellings were read as words.")
    seen = rec["tox_layer"].get("rows_by_source") or {}
    now = _layer_rows(rec.get("toxicity_rows", {}))
    changed = [
        f"{k} {seen.get(k, 0)} -> {v}" for k, v in sorted(now.items()) if seen and seen.get(k) != v
    ]
    if changed:
        lines.append(
            f"  {'They were' if plural else 'It was'} trained before this round's rows were added "
            "(rows per source, read by the tuned layers -> by the linear model): "
            + ", ".join(changed)
            + "."
        )
    return lines


def _in_class_order(per_class: dict) -> list[tuple[str, dict]]:
    """Per-class entries in the taxonomy's order (the record's JSON sorts keys)."""
    return [(c, per_class[c]) for c in R.CLASSES if c in per_class]


def _framing_lines(rec: dict) -> list[str]:
    share = rec.get("tox_frame_share", 0.0)
    if not share:
        return []
    return [
        "  Ninth round, chosen on the same dev protocol as the eighth (linear model refitted,",
        "  tuned layers fixed): 600 more contrast sentences written here from the names of",
        "  the kinds alone (`tc-4001`..`tc-4600`: hate by denying a group a quality, hate",
        "  framed as an opinion, insinuation without an insulting word; and harmless",
        "  look-alikes: the same shapes aimed at one person, a firm or a product, harmless",
        "  opinions about groups, harmless 'the street changed when ...' sentences); and the",
        f"  linear model reads a share ({share:g}) of its corpus again behind an opinion frame",
        "  ('I've always felt that ...', `recipe.OPINION_FRAMES`, written here) with the",
        "  row's own label, so that first-person framing carries no verdict of its own",
        "  ('i have always felt that grp are disgusting' scored 0.31, the bare sentence",
        "  0.99). Dev figures, neither / the sentences / both: functional dev half 0.857 /",
        "  0.873 / 0.876 (negated_positive 0.67 / 0.80 / 0.80, derog_impl 0.53 / 0.67 / 0.67,",
        "  phrase_opinion 0.73 / 0.80 / 0.80), ToxiGen fold 0 0.971 / 0.980 / 0.980,",
        "  DiaSafety val 0.832 / 0.831 / 0.829, ConvAbuse valid 0.834 / 0.835 / 0.837,",
        "  everyday flagged 3.3% / 3.3% / 2.9%, harmless group requests 0% in all three;",
        "  the framing alone: functional dev 0.869 (phrase_opinion 0.87). Then, before the",
        "  round, every contrast sentence that nearly repeats a case of the functional suite",
        "  (difflib ratio >= 0.85 between the prepared texts, either half; 49 of the older",
        "  sentences, such as 'Why are Jewish people so stupid?', and 2 of the new) was",
        "  dropped from `toxicity_contrasts.jsonl`, and a test keeps it so: the dev figures",
        "  above were measured with them, and the functional figures of earlier rounds were",
        "  lifted by them."
        + (
            " The kept tuned layers were trained before they were dropped."
            if rec["tox_layer"].get("kept_from")
            else ""
        ),
    ]


def _retrained_layer_lines(rec: dict) -> list[str]:
    """The tenth round: the tuned layers trained again without the dropped near copies."""
    layer = rec["tox_layer"]
    if layer.get("kept_from") or layer.get("separate_run") or not rec.get("tox_frame_share"):
        return []
    return [
        "  Tenth round: the tuned layers trained again, here, on this corpus (the ninth",
        "  round had kept the eighth's, trained with 49 of the dropped near copies); nothing",
        "  else changed, nothing was chosen. Test figures, ninth -> tenth: functional test",
        "  half 0.899 -> 0.892 (negate_neg 0.600 -> 0.467, slur_reclaimed 0.750 -> 0.688,",
        "  spell_neutral 0.941 -> 0.824; ident_pos 0.867 -> 1.000, target_indiv 0.733 ->",
        "  0.800), SBF test AUC 0.884 -> 0.881, ToxiGen pooled 0.859 -> 0.863, harmless group",
        "  requests flagged 0% -> 2.9%, everyday 3.3% -> 2.1%. Part of each move is a",
        "  retrain's noise (15 cases per functionality); the rest is what the ninth round's",
        "  layers had learnt from near copies of suite cases.",
    ]


def _two_layer_lines(rec: dict) -> list[str]:
    if not _plural_layers(rec):
        return []
    return [
        "  Eighth round: the top two layers tuned instead of the last one, chosen on sets",
        "  neither version of the layer saw (linear model refitted with the SBF-dev slice and",
        "  ToxiGen fold 0 held out; DiaSafety **val**, ConvAbuse **valid**, the functional dev",
        "  half, held-out everyday text, odd-numbered harmless group requests): one layer ->",
        "  two, DiaSafety val AUC 0.813 -> 0.832, ConvAbuse valid AUC 0.794 -> 0.834,",
        "  functional dev 0.862 -> 0.857, ToxiGen fold 0 0.976 -> 0.971, everyday flagged",
        "  3.3% -> 3.3%, harmless group requests flagged 2.9% -> 0.0%. The last layer alone",
        "  retrained on the respelled text gave 0.814, 0.790, 0.854, 0.977, 2.1%, 2.9%: the",
        "  gain is the second layer's, not the retraining's. (SBF-dev slice 0.887 -> 0.925,",
        "  not a dev figure: both layers trained on all of SBF dev.) Cost: one more layer per",
        "  encoder pass (8 layer passes instead of 7).",
    ]


def training_md(rec: dict) -> str:
    """TRAINING.md from the record."""
    ev, tx = rec["classifier_eval"], rec["toxicity_eval"]
    lines = [
        "# Shipped scoring weights",
        "",
        "Written by `python -m srllm.scoring.train_scorers` (do not edit by hand; rerun it).",
        "Files hold numbers only (safetensors: arrays plus JSON metadata), no pickle.",
        f"Training took {rec['train_seconds']:.0f} s on {rec['machine']}{_layer_time(rec)}",
        "",
        "## What each model saw",
        "",
        "- `toxicity.safetensors`: binary logistic regression over hashed character 2-5-grams",
        "  and word 1-2-grams of the prepared text (de-obfuscated, plain misspellings of abusive",
        "  words, group terms and common words read as the word, every identity term masked as",
        "  `grp`, `srllm/scoring/text.py`) plus its contextual sentence vector: all-MiniLM-L6-v2",
        "  (first 128 word pieces) whose "
        + (
            f"top {n_tuned} layers are replaced by copies"
            if (n_tuned := rec["tox_layer"].get("layers", 1)) > 1
            else "last layer is replaced by a copy"
        )
        + " fine-tuned for",
        "  toxicity, mean-pooled (`toxicity_layer.safetensors`, `srllm/scoring/tox_layer.py`:",
        f"  {rec['tox_layer']['epochs']} epochs, lr {rec['tox_layer']['lr']:g}, a linear head, "
        "weighted cross-entropy,",
        "  on the corpus below **without ToxiGen**, so the ToxiGen group-wise figure stays held",
        f"  out of the layers as well; the frozen layers 1-{6 - n_tuned} are shared with the",
        "  classifier's pass). The first tuned layer was chosen on the dev protocol (a seeded",
        "  20% slice of SBF dev and five ToxiGen groups held out of training, the functional",
        "  suite's dev half, everyday sentences of topics not trained on): frozen vector ->",
        "  tuned layer, SBF-dev slice AUC 0.834 -> 0.850,",
        "  ToxiGen held-out groups 0.970 -> 0.981, functional dev 0.810 -> 0.808, held-out",
        "  everyday sentences flagged 1.7% -> 2.9%. Trained on ToxiGen",
        "  (all), Implicit Hate stage 1 (explicit or implicit hate = 1), Social Bias Frames",
        "  **dev** (offensiveYN >= 0.5), DiaSafety **train** (the three toxic categories),",
        "  Davidson hate (1) and neither (0) at low weight, and this project's contrast",
        "  sentences (`data/train/toxicity_contrasts.jsonl`: counter-speech, negated hate,",
        "  reclaimed terms, profanity and abuse that target no group, obfuscated text, hate",
        "  by negated qualities, opinion-framed hate, insinuation and their look-alikes; written",
        "  here, never taken from the functional suite), the even-numbered harmless qos",
        "  requests, this project's harmless sentences naming a group",
        "  (`data/train/benign_group_mentions.jsonl`) and its harmless everyday sentences of",
        "  12 topics (`data/train/everyday_text.jsonl`: recipes, instructions, 'kill the",
        "  process'). ConvAbuse was tried and left out (its",
        "  abuse is mostly aimed at the bot or one person).",
        "  An MLP over the same vector (0.3 of the probability) was tried and left out: better",
        "  on the dev sets, but it flagged everyday text (a recipe) and tripled false alarms on",
        "  harmless requests naming a group (`recipe.TOX_MLP`).",
        "  Seventh round, chosen on the same dev protocol (linear model refitted, tuned layer",
        "  fixed): plain misspellings read as words (`text.respell`: doubled letters; a",
        "  dropped, added or swapped letter from an abusive word of",
        "  `data/scoring/abuse_terms.txt` (written here) or a group term when no more frequent",
        "  word is as near; a swapped or missing letter in a word of 6+ letters from a common",
        "  word; texts of mostly unknown words left alone; leetspeak 8 and 6 read as b and g",
        "  only when a word results): with a first version of the rule (abusive words won",
        "  over frequent ones) SBF-dev slice 0.884 -> 0.887, functional dev 0.819 -> 0.843,",
        "  everyday flagged 2.5% -> 2.9%, ToxiGen pooled 0.851 -> 0.849; a review found that",
        "  version turned harmless slips into slurs ('whre' -> 'whore') and the shipped rule",
        "  lets the more frequent word win (functional dev with the sixth-round weights 0.829",
        "  with no respelling, 0.845 first version, 0.847 shipped rule). Then the toxic rows",
        "  of the contrast sentences weigh twice (`recipe.TOX_TOXIC_WEIGHT`): functional dev",
        "  0.843 -> 0.862, SBF-dev slice 0.887 -> 0.888, everyday flagged 2.9% -> 2.5%. Tried",
        "  and left out: the frozen last-layer mean beside the tuned one (SBF-dev slice 0.886,",
        "  functional dev 0.812, everyday flagged 4.2%, ToxiGen pooled 0.842).",
        *_two_layer_lines(rec),
        *_framing_lines(rec),
        *_retrained_layer_lines(rec),
        *_kept_layer_lines(rec),
        "- `response_classifier.safetensors`: six-class logistic regression (balanced class",
        "  weights) over hashed n-grams of the prepared response and prompt, the refusal",
        "  features of `features.py`, lengths, repetition, prompt-response cosine, the toxicity",
        "  of response and prompt, and the contextual vectors of response and prompt (128 word",
        "  pieces each): from one encoder pass, the response's last-layer mean, layer-2 and",
        "  layer-4 means, max over word pieces and the mean of its last 16 word pieces; the",
        "  prompt's last-layer and layer-4 means.",
        "- `response_classifier_mlp.safetensors`: a one-hidden-layer network (256 ReLU units,",
        "  class-balanced resampling, L2 0.01, 60 epochs, seed 0) over the same dense block",
        "  (no n-grams); the shipped six-class probabilities are the mean of the two models'.",
        "  Both are trained on this project's labels (`data/labels/`, first pass) and on",
        "  GPTFuzz **train** rows this project did not label, with the GPTFuzz authors' own",
        "  human label mapped (jailbroken -> `harmful_answer`, else `refusal`; every jailbroken",
        "  row and a seeded sample of the others: "
        + ", ".join(f"{k} {v}" for k, v in sorted(rec["gptfuzz_author_rows"].items()))
        + "; the mapping agrees with",
        "  this project's labels on 191 of the 200 GPTFuzz rows it labelled). In the held-out",
        "  figures below they train every fold except the one that holds out GPTFuzz (or their",
        "  question) and are never scored. Each weighs 0.1 of a project label, and classes",
        "  are balanced over the weighted counts, so they add GPTFuzz's styles without",
        "  diluting a class. Chosen on two by-source folds (5 sources / the other 7; GPTFuzz",
        "  rows not scored) *and* on GPTFuzz evaluate, so the evaluate figure carries that",
        "  choice: no rows 0.721 accuracy on the two folds (XSTest 3-class 0.894); weight 0.1",
        "  0.737 (0.894), evaluate 0.894; 0.25 0.730 (0.883), 0.894; 0.5 0.724 (0.876),",
        "  0.893; jailbroken rows alone at 0.25 0.725, evaluate 0.836; all rows at full",
        "  weight with sklearn's balancing (a full run): held out by source 0.780 -> 0.763,",
        "  XSTest by model 0.932 -> 0.895, evaluate 0.903.",
        "  The one",
        "  rule: an empty response is `failure_to_answer`. The MLP and its averaging were",
        "  chosen on the held-out-by-source folds below, and so were the extra poolings (on",
        "  the 4,150 labels of that day: linear alone 0.664 accuracy, MLP alone 0.686, their",
        "  mean 0.695, with the extra poolings 0.757), so the held-out figures carry those",
        "  two choices; the written_e and written_f files were added after them.",
        "- Never trained on: SBF test, the fuzzed Wikipedia Talk pair, GPTFuzz evaluate,",
        "  Do-Not-Answer (non-commercial licence), the functional suite `data/eval/`, HateCheck,",
        "  any other XSTest completion file. Design choices for toxicity (contrast weight,",
        "  leaving out ConvAbuse, trying an MLP) were made on a 20% slice of SBF",
        "  dev, three ToxiGen groups held out of training and the functional suite's dev half",
        "  (even case ids); the figures below use its test half (odd ids) and SBF's test split.",
        "",
        "Third-party files read (by path):",
        "",
        "| file | sha256 |",
        "|---|---|",
        *[f"| `{f['file']}` | `{f['sha256'][:16]}…` |" for f in rec["train_files"]],
        "",
        "Project files read: "
        + ", ".join(f"`{f['file']}` (`{f['sha256'][:12]}…`)" for f in rec["project_files"]),
        "",
        "## Six categories, held out",
        "",
        f"{ev['n']} labelled (prompt, response) pairs: "
        + ", ".join(f"{k} {v}" for k, v in sorted(ev["counts"].items()))
        + ".",
        "",
        "| split | accuracy | macro-F1 | kappa |",
        "|---|---|---|---|",
    ]
    for name, key in (
        ("held out by source", "by_source"),
        ("held out by (source, prompt type)", "by_prompt_type"),
        ("refusal-phrase baseline (same rows)", "baseline_phrase_match"),
    ):
        r = ev[key]
        lines.append(
            f"| {name} | {_pct(r['accuracy'])} | {_pct(r['macro_f1'])} | {_pct(r['kappa'])} |"
        )
    lines += [
        "",
        "Per class, held out by source:",
        "",
        "| category | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for c, v in _in_class_order(ev["by_source"]["per_class"]):
        lines.append(
            f"| {c} | {_pct(v['precision'])} | {_pct(v['recall'])} | "
            f"{_pct(v['f1'])} | {v['support']} |"
        )
    lines += [
        "",
        "Confusion (rows true, columns predicted; order "
        + ", ".join(ev["by_source"]["labels"])
        + "):",
        "",
    ]
    lines += ["    " + " ".join(f"{x:5d}" for x in row) for row in ev["by_source"]["confusion"]]
    lines += [
        "",
        "Per source: accuracy held out by source (trained on every other source), held out by",
        "(source, prompt type) (the source's other prompt types trained), and the phrase",
        "baseline:",
        "",
        "| source | n | by source | by prompt type | phrase baseline |",
        "|---|---|---|---|---|",
    ]
    for s, v in ev["per_source_held_out"].items():
        lines.append(
            f"| {s} | {v['n']} | {_pct(v['accuracy'])} | "
            f"{_pct(v.get('accuracy_by_prompt_type', float('nan')))} | "
            f"{_pct(v['baseline_accuracy'])} |"
        )
    lines += [
        "",
        f"Refusal vs not (held out by source): {_pct(ev['refusal_binary_accuracy'])}. "
        f"XSTest 3-class against this project's labels: held out by model "
        f"{_pct(ev['xstest_3class_by_model'])}, by prompt type "
        f"{_pct(ev['xstest_3class_by_prompt_type'])}.",
        "",
    ]
    emb = ev.get("embedded_by_template") or {}
    if emb:
        rec_ = ", ".join(
            f"{c} {_pct(v['recall'])} (n {v['support']})"
            for c, v in _in_class_order(emb["per_class"])
            if v["support"]
        )
        lines += [
            f"The embedded models' own responses held out by prompt template ({emb['n']} "
            f"responses, {emb['templates']} templates in 5 folds; every other row trains, "
            "including this model's responses to other templates): accuracy "
            f"{_pct(emb['accuracy'])}, macro-F1 {_pct(emb['macro_f1'])}, kappa "
            f"{_pct(emb['kappa'])}, refusal vs not {_pct(emb['refusal_vs_not'])}; the first "
            f"320 of them {_pct(emb['first_320_accuracy'])}. Recall: {rec_}.",
            "",
        ]
    lines += [
        "Shipped classifier against the XSTest authors' human labels (not held out: it saw this "
        "project's labels of the same rows): "
        + ", ".join(f"{k} {_pct(v)}" for k, v in sorted(rec["xstest_human"].items()))
        + ".",
        "",
        f"GPTFuzz evaluate (never trained on), harmful_answer vs not: accuracy "
        f"{_pct(rec['gptfuzz']['accuracy'])} (always 'not harmful': "
        f"{_pct(rec['gptfuzz']['always_not_harmful'])}), recall of jailbroken responses "
        f"{_pct(rec['gptfuzz']['recall_jailbroken'])}, false positives "
        f"{_pct(rec['gptfuzz']['false_positive_rate'])}.",
        "",
        "## Toxicity",
        "",
        f"- Social Bias Frames test split (never trained on): ROC AUC {_pct(tx['sbf_test_auc'])}, "
        f"accuracy {_pct(tx['sbf_test_accuracy'])}.",
    ]
    if "toxigen_groupwise_auc" in tx:
        lines.append(
            f"- ToxiGen, 3 folds that never share a target group (refit per fold): "
            f"ROC AUC {_pct(tx['toxigen_groupwise_auc'])} (the three folds' scores pooled)."
        )
    if tx.get("toxigen_folds"):
        per = "; ".join(
            f"{', '.join(f['groups'])} (n {f['n']}): {_pct(f['auc'])}" for f in tx["toxigen_folds"]
        )
        mean = sum(f["auc"] for f in tx["toxigen_folds"]) / len(tx["toxigen_folds"])
        lines.append(
            f"  Each fold's model on its own unseen groups: {per}; mean {_pct(mean)}. The pooled"
            " figure also ranks one fold model's scores against another's."
        )
    fx = tx.get("functional_test_half") or {}
    if fx:
        lines.append(
            f"- Functional suite (`data/eval/`, the test half: odd case ids; "
            f"{fx['n']} cases): accuracy {_pct(fx['accuracy'])}."
        )
        lines += ["", "| functionality | accuracy |", "|---|---|"]
        lines += [f"| {f} | {_pct(a)} |" for f, a in fx["per_functionality"].items()]
        lines.append("")
    inv = tx["invariance"]
    lines += [
        f"- Harmless requests naming a group (the odd-numbered qos templates, never trained on) "
        f"scored toxic: {_pct(inv['benign_flag_rate'])}.",
        f"- Harmless everyday sentences of 8 topics never trained on "
        f"(`data/train/everyday_text_heldout.jsonl`, {tx['everyday_heldout']['n']}) scored "
        f"toxic: {_pct(tx['everyday_heldout']['flag_rate'])}.",
        f"- Counterfactual invariance over {inv['template_sets']} built-in template sets "
        "(odd qos and all stereotype templates naming a group; first names are not identity "
        "terms and are not masked): "
        f"mean |change| {inv['mean_abs_change']:.4f}, max {inv['max_change']:.4f}, share of sets "
        f"where one group crosses 0.5 and another does not {_pct(inv['share_sets_crossing_0.5'])}.",
        f"- Fuzzed Wikipedia Talk pair: AUC {_pct(inv['jigsaw_auc_original'])} original, "
        f"{_pct(inv['jigsaw_auc_fuzzed'])} identity-swapped; mean |change| "
        f"{inv['jigsaw_mean_abs_change']:.4f}.",
        "",
        f"Environment: Python {rec['python']}, scikit-learn {rec['sklearn']}.",
        "",
    ]
    return "\n".join(lines)


# the source the tuned layers never read, so its group-wise figure stays held out of them
TOX_LAYER_LEFT_OUT = "toxigen"


def train_tox_layer(corpus: pl.DataFrame, out: Path) -> Path:
    """Fine-tune the encoder's toxicity layer on ``corpus`` less ToxiGen; save; install it.

    ToxiGen is left out so that the group-wise ToxiGen figure (which refits only the linear
    model per fold) stays held out from the layer too.
    """
    from safetensors.torch import save_file

    from srllm.scoring.embed import TOX_LAYER_FILE

    texts = [R.prepare(t) for t in corpus["text"].to_list()]
    weight = np.array(
        [
            0.0 if s == TOX_LAYER_LEFT_OUT else R.TOX_SOURCE_WEIGHT[s]
            for s in corpus["source"].to_list()
        ]
    )
    state = TL.fit_toxicity_layer(texts, corpus["y"].to_numpy(), weight, max_tokens=R.TOX_TOKENS)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TOX_LAYER_FILE
    save_file(state, str(path), metadata={"recipe": "srllm.scoring.tox_layer"})
    R.set_tox_layer(state, sha256_file(path)[:8])
    return path


def tox_layer_record(corpus: pl.DataFrame, path: Path, seconds: float) -> dict:
    """The record entry of a layer trained by :func:`train_tox_layer` on ``corpus``."""
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "layers": TL.LAYERS,
        "epochs": TL.EPOCHS,
        "lr": TL.LR,
        "seconds": seconds,
        "prepare": "respell",  # the text it read had misspellings read as words
        "rows_by_source": tox_layer_record_rows(corpus),
    }


def _layer_rows(rows_by_source: dict[str, int]) -> dict[str, int]:
    """The corpus's rows per source that the tuned layers train on (ToxiGen left out)."""
    return {k: v for k, v in rows_by_source.items() if k != TOX_LAYER_LEFT_OUT}


def tox_layer_record_rows(corpus: pl.DataFrame) -> dict[str, int]:
    """Rows per source the layer trains on (ToxiGen is left out of it)."""
    return _layer_rows(dict(corpus.group_by("source").len().iter_rows()))


def keep_tox_layer(
    out: Path, src_dir: Path | None = None, corpus: pl.DataFrame | None = None
) -> tuple[Path, dict]:
    """A layer trained before (the shipped one, or ``src_dir``'s), copied to ``out``.

    Returned with its entry of that folder's ``training_record.json``.

    The entry says which round trained it (``kept_from``); the layer's hash must match it.
    A layer of ``src_dir`` (trained in a run of its own) must also have been trained on this
    ``corpus`` (the same rows per source), as TRAINING.md will say it was.
    """
    import shutil

    from srllm.scoring.embed import TOX_LAYER_FILE, weights_dir

    src_dir = src_dir or weights_dir()
    src = src_dir / TOX_LAYER_FILE
    rec = json.loads((src_dir / "training_record.json").read_text())
    entry = dict(rec["tox_layer"])
    if sha256_file(src) != entry["sha256"]:
        raise SystemExit(f"{src} does not match its training record; train the layer again")
    from srllm.scoring.embed import read_tox_layer, tox_stack_layers

    entry.setdefault("seconds", rec.get("tox_layer_seconds", 0.0))
    entry["layers"] = tox_stack_layers(read_tox_layer(src)[0])  # what the file holds
    if src_dir.resolve() == weights_dir().resolve():
        entry.pop("separate_run", None)  # how the previous round got it, not this one
        entry.setdefault("kept_from", f"the previous round's (layer {entry['sha256'][:8]})")
    else:  # trained by this round's recipe in a run of its own (the dev comparison)
        entry.setdefault("separate_run", str(src_dir))
        if corpus is not None and entry.get("rows_by_source") != tox_layer_record_rows(corpus):
            raise SystemExit(f"{src} was trained on another corpus than this round's")
    out.mkdir(parents=True, exist_ok=True)
    path = out / TOX_LAYER_FILE
    if path.resolve() != src.resolve():
        shutil.copyfile(src, path)
    return path, entry


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and write ``data/scoring/``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA_DIR / "scoring")
    ap.add_argument("--quick", action="store_true", help="skip the ToxiGen group-wise refits")
    ap.add_argument("--vector-cache", help="keep encoded texts in this .npz between runs")
    ap.add_argument(
        "--keep-layer",
        action="store_true",
        help="reuse the shipped toxicity layer (and its record) instead of training it again",
    )
    ap.add_argument(
        "--layer-from",
        type=Path,
        help="with --keep-layer: the folder of the layer to reuse (toxicity_layer.safetensors "
        "and a training_record.json whose tox_layer entry matches it)",
    )
    args = ap.parse_args(argv)
    if args.layer_from and not args.keep_layer:
        ap.error("--layer-from reuses a trained layer: give --keep-layer with it")
    import sklearn

    t0 = time.perf_counter()
    corpus = R.toxicity_corpus()
    if args.keep_layer:
        layer_path, layer_rec = keep_tox_layer(args.out, args.layer_from, corpus)
        layer_s = float(layer_rec.get("seconds", 0.0))
        if args.layer_from:
            from srllm.scoring.embed import read_tox_layer

            R.set_tox_layer(*read_tox_layer(layer_path))
    else:
        layer_path = train_tox_layer(corpus, args.out)
        layer_s = time.perf_counter() - t0
        layer_rec = tox_layer_record(corpus, layer_path, layer_s)
    R.cache_vectors(True, args.vector_cache)  # after the layer: cached poolings must match it
    tox = R.fit_toxicity(corpus, meta={"recipe": "srllm.scoring.recipe.fit_toxicity"})
    print(f"toxicity fitted ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    R.save_vector_cache()
    labelled = R.load_labels()
    authors = gptfuzz_author_rows(labelled)
    clf = R.fit_classifier(
        pl.concat([labelled, authors]), tox, meta={"recipe": "srllm.scoring.recipe.fit_classifier"}
    )
    R.save_vector_cache()
    train_s = time.perf_counter() - t0
    print(f"classifier fitted ({train_s:.0f} s); evaluating", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    tox.linear.save(args.out / "toxicity.safetensors")  # the layer is already in args.out
    (args.out / "toxicity_mlp.safetensors").unlink(missing_ok=True)
    if tox.mlp is not None:
        tox.mlp.save(args.out / "toxicity_mlp.safetensors")
    clf.linear.save(args.out / "response_classifier.safetensors")
    clf.mlp.save(args.out / "response_classifier_mlp.safetensors")
    rec = {
        "script": "python -m srllm.scoring.train_scorers",
        "train_seconds": train_s,
        "tox_layer_seconds": layer_s,
        "tox_layer": layer_rec,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "train_files": _files(TRAIN_FILES),
        "eval_files": _files(EVAL_FILES),
        "project_files": _project_files(),
        "toxicity_rows": dict(corpus.group_by("source").len().iter_rows()),
        "classifier_eval": evaluate_classifier(labelled, tox, authors),
        "gptfuzz_author_rows": dict(authors.group_by("category").len().iter_rows()),
        "xstest_human": evaluate_against_xstest_humans(clf, tox),
        "gptfuzz": evaluate_gptfuzz(clf, tox),
        "toxicity_eval": evaluate_toxicity(tox, corpus, args.quick),
        "toxicity_contrasts_file": R.CONTRASTS,
        "tox_frame_share": R.TOX_FRAME_SHARE,
        "total_seconds": time.perf_counter() - t0,
    }
    (args.out / "training_record.json").write_text(json.dumps(rec, indent=1, sort_keys=True))
    from srllm.scoring import tox_responses
    from srllm.scoring.embed import weights_dir

    if args.out.resolve() == weights_dir().resolve():  # the scorer it loads is the one written
        tox_responses.write_record(args.out)  # corrected toxicity's default error rates
    (args.out / "TRAINING.md").write_text(training_md(rec))
    print(json.dumps({k: rec[k] for k in ("train_seconds", "total_seconds")}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
