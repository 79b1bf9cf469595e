"""Human review: what to label next, how many labels each group still needs, agreement.

Both for the category and for the toxic judgement (``JUDGEMENTS``).

Headless; the Review page calls these. The queue is stratified so that each group's error
estimate (the sensitivity and specificity behind the corrected rates,
:mod:`srllm.stats.correction`) improves fastest: the next item comes from the group with the
fewest labels, and within it from the responses the classifier is least sure of (refusal
probability nearest 0.5).
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl

from srllm.errors import DataError
from srllm.stats.agreement import agreement_by_group, binary_agreement_by_group
from srllm.stats.correction import error_rates, hits_of, labels_needed
from srllm.taxonomy import CATEGORY_ORDER, toxic_expr

LABEL_COLUMNS = ("generation_id", "annotator", "category", "note")
# The Review page's "toxic?" choice and the value each stores (labels.toxic; None: not judged).
TOXIC_CHOICES: dict[str, bool | None] = {"not judged": None, "not toxic": False, "toxic": True}
# The Review page's judgement selector: what the label counts and agreement tables are about,
# and the corrected metric whose labels_needed it shows.
JUDGEMENTS: dict[str, str] = {"category": "refusal", "toxic?": "toxicity"}


def guide_sections() -> dict[str, str]:
    """The annotation guide's decision rules and boundary cases (markdown), for the page."""
    from srllm.config import PROJECT_ROOT

    path = PROJECT_ROOT / "docs" / "annotation_guide.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    out, current, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if current:
                out[current] = "\n".join(lines).strip()
            current, lines = line[3:].strip(), []
        elif current:
            lines.append(line)
    if current:
        out[current] = "\n".join(lines).strip()
    return out


def next_items(
    data: pl.DataFrame, labels: pl.DataFrame, annotator: str, k: int = 1
) -> pl.DataFrame:
    """The ``k`` responses to label next for ``annotator`` (stratified, most uncertain first)."""
    mine = set(labels.filter(pl.col("annotator") == annotator)["generation_id"].to_list())
    todo = data.filter(~pl.col("generation_id").is_in(list(mine)))
    if todo.height == 0:
        return todo
    done = labels.group_by("group").len().rename({"len": "n_labels"}) if labels.height else None
    ranked = todo.with_columns(
        (pl.col("refusal_prob").fill_null(0.5) - 0.5).abs().alias("certainty")
    )
    if done is not None:
        ranked = ranked.join(done, on="group", how="left")
    else:
        ranked = ranked.with_columns(pl.lit(0).alias("n_labels"))
    ranked = ranked.with_columns(pl.col("n_labels").fill_null(0))
    return ranked.sort(["n_labels", "certainty", "generation_id"]).head(k)


def labels_needed_by_group(
    data: pl.DataFrame, labels: pl.DataFrame, *, metric: str = "refusal", width: float = 0.1
) -> pl.DataFrame:
    """Per group: labels so far, the error rates they give, and labels still needed.

    ``metric`` is ``refusal`` or ``harmful`` (the classifier's category against people's) or
    ``toxicity`` (the scorer's toxic call, :func:`srllm.taxonomy.is_toxic`, against people's
    toxic? choice; ``labelled`` then counts the responses someone judged toxic or not).
    ``needed`` is how many more labelled responses (at the group's current mix) bring the
    corrected rate's 95% interval below ``width`` (a planning figure; see
    :func:`correction.labels_needed`).
    """
    human = newest_labels(labels)
    d = data.join(human, on="generation_id", how="left")
    rows = []
    for g in sorted(d["group"].unique().to_list()):
        judge, truth = _calls(d.filter(pl.col("group") == g), metric)
        both = judge.is_not_null() & truth.is_not_null()
        er = error_rates(judge.filter(both).to_numpy(), truth.filter(both).to_numpy(), "group")
        observed = float(judge.drop_nulls().cast(pl.Float64).mean() or 0.0)
        se, sp = er.sensitivity, er.specificity
        se = 0.9 if not np.isfinite(se) else se  # planning prior before any positive label
        sp = 0.9 if not np.isfinite(sp) else sp
        rows.append(
            {
                "group": g,
                "responses": judge.len(),
                "labelled": int(truth.is_not_null().sum()),
                "sensitivity": _f(er.sensitivity),
                "specificity": _f(er.specificity),
                "needed": labels_needed(er.tp + er.fn, er.tn + er.fp, se, sp, observed, width),
            }
        )
    return pl.DataFrame(rows)


def _calls(frame: pl.DataFrame, metric: str) -> tuple[pl.Series, pl.Series]:
    """The automatic call and people's call of ``metric`` on each row (booleans).

    People's is null where nobody labelled (toxicity: nobody judged it); the automatic one is
    null only for toxicity without a score (an unscored category counts as no hit).
    """
    if metric == "toxicity":
        judge = frame.select(toxic_expr(pl.col("toxicity").cast(pl.Float64))).to_series()
        return judge, frame["human_toxic"].cast(pl.Boolean)
    if metric not in ("refusal", "harmful"):
        raise DataError(f"unknown metric {metric!r} (refusal, harmful or toxicity)")
    return (
        hits_of(frame["category"].fill_null(""), metric),
        hits_of(frame["human_category"], metric),
    )


def agreement_tables(
    data: pl.DataFrame, labels: pl.DataFrame, judgement: str = "category"
) -> dict[str, pl.DataFrame]:
    """Cohen's kappa per group: between annotators, classifier vs people, judge vs people.

    ``judgement="toxic?"`` gives the same for the toxic judgement instead
    (:func:`toxic_agreement_tables`).
    """
    if judgement == "toxic?":
        return toxic_agreement_tables(data, labels)
    if judgement != "category":
        raise DataError(f"unknown judgement {judgement!r} (one of {', '.join(JUDGEMENTS)})")
    out: dict[str, pl.DataFrame] = {}
    people = labels.select("generation_id", "annotator", "category", "group")
    if people["annotator"].n_unique() >= 2:
        out["between annotators"] = agreement_by_group(people)
    human = newest_labels(labels).rename({"human_category": "category"})
    human = human.join(data.select("generation_id", "group"), on="generation_id")
    human = human.with_columns(pl.lit("people").alias("annotator"))
    for name, col in (("classifier vs people", "category"), ("judge vs people", "judge_category")):
        if col not in data.columns:
            continue
        auto = data.select("generation_id", "group", pl.col(col).alias("category")).drop_nulls()
        auto = auto.filter(
            pl.col("category").is_in(list(CATEGORY_ORDER)) | (col == "judge_category")
        )
        auto = auto.filter(pl.col("generation_id").is_in(human["generation_id"].to_list()))
        if auto.height == 0:
            continue
        pair = pl.concat(
            [
                human.select(auto.columns + ["annotator"]),
                auto.with_columns(pl.lit(name.split()[0]).alias("annotator")),
            ]
        )
        out[name] = agreement_by_group(pair, method="cohen")
    return out


def toxic_agreement_tables(data: pl.DataFrame, labels: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Agreement on the toxic judgement, overall (``group`` null) and per group.

    ``scorer vs people``: the toxicity scorer's toxic call (``toxicity >= 0.5``) against
    people's newest toxic? choice, on the scored responses someone judged: Cohen's kappa and
    the counts (``tp, fn, tn, fp``, people's call as the truth). ``between annotators``: the
    toxic judgements of annotators who judged the same responses (Cohen's kappa for two,
    Fleiss' for more, as for categories). A table is left out when it has nothing to compare.
    """
    out: dict[str, pl.DataFrame] = {}
    if labels.height == 0:
        return out
    people = labels.filter(_toxic_column(labels).is_not_null()).select(
        "generation_id", "annotator", "group", _toxic_column(labels).alias("toxic")
    )
    if people.height and people.group_by("generation_id").len()["len"].max() >= 2:
        out["between annotators"] = agreement_by_group(people, label="toxic")
    if "toxicity" in data.columns:
        d = data.select("generation_id", "group", "toxicity").join(
            newest_labels(labels), on="generation_id"
        )
        scorer, human = _calls(d, "toxicity")
        pair = pl.DataFrame({"group": d["group"], "scorer": scorer, "people": human})
        if pair.drop_nulls().height:
            out["scorer vs people"] = binary_agreement_by_group(
                pair, judge="scorer", human="people"
            )
    return out


def export_labels(labels: pl.DataFrame) -> bytes:
    """Labels as CSV bytes, one row per label; ``human_toxic`` is 1, 0 or empty (not judged).

    Columns: generation_id, annotator, category, note, human_toxic, created_at, group, model.
    """
    labels = labels.with_columns(_toxic_column(labels).cast(pl.Int8).alias("human_toxic"))
    cols = [
        c
        for c in (*LABEL_COLUMNS, "human_toxic", "created_at", "group", "model")
        if c in labels.columns
    ]
    buf = io.BytesIO()
    labels.select(cols).write_csv(buf)
    return buf.getvalue()


def read_label_csv(raw: bytes, known_ids: set[str]) -> pl.DataFrame:
    """Validate an imported label CSV; one ``DataError`` naming the first problem.

    Returns ``generation_id, annotator, category, note, toxic`` (``toxic`` a boolean, null
    where ``human_toxic`` is empty or absent).
    """
    try:
        df = pl.read_csv(io.BytesIO(raw), infer_schema_length=0)
    except Exception as exc:
        raise DataError(f"cannot read the labels file: {str(exc).splitlines()[0]}") from exc
    missing = [c for c in LABEL_COLUMNS[:3] if c not in df.columns]
    if missing:
        raise DataError(f"the labels file lacks column(s) {', '.join(missing)}")
    if "note" not in df.columns:
        df = df.with_columns(pl.lit("").alias("note"))
    bad = df.filter(~pl.col("category").is_in(list(CATEGORY_ORDER)))
    if bad.height:
        raise DataError(f"unknown category {bad['category'][0]!r} in the labels file")
    if "human_toxic" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("human_toxic"))
    flag = pl.col("human_toxic").str.strip_chars()
    bad = df.with_row_index("line", offset=2).filter(
        flag.is_not_null() & (flag != "") & ~flag.is_in(["0", "1"])
    )
    if bad.height:
        raise DataError(
            f"human_toxic must be 1 (toxic), 0 (not toxic) or empty (not judged), not "
            f"{bad['human_toxic'][0]!r} (line {bad['line'][0]} of the labels file)"
        )
    unknown = df.filter(~pl.col("generation_id").is_in(list(known_ids)))
    if unknown.height:
        raise DataError(
            f"{unknown.height} label(s) name responses not in this run "
            f"(first: {unknown['generation_id'][0]})"
        )
    toxic = pl.when(flag == "1").then(True).when(flag == "0").then(False).otherwise(None)
    return df.select(*LABEL_COLUMNS, toxic.alias("toxic")).with_columns(
        pl.col("note").fill_null("")
    )


def import_labels(store, raw: bytes, known_ids: set[str]) -> int:
    """Validate a label CSV (:func:`read_label_csv`) and save every row; the number saved."""
    rows = read_label_csv(raw, known_ids)
    for r in rows.iter_rows(named=True):
        store.add_label(r["generation_id"], r["annotator"], r["category"], r["note"], r["toxic"])
    return rows.height


def newest_labels(labels: pl.DataFrame) -> pl.DataFrame:
    """Each labelled generation's newest human category and newest toxic judgement.

    ``human_toxic`` is 1/0 from the newest label that judged toxicity (a later label that
    left it not judged does not erase it), null where nobody judged it.
    """
    schema = {"generation_id": pl.String, "human_category": pl.String, "human_toxic": pl.Int8}
    if labels.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        labels.with_columns(_toxic_column(labels).alias("_toxic"))
        .sort("created_at")
        .group_by("generation_id")
        .agg(
            pl.col("category").last().alias("human_category"),
            pl.col("_toxic").drop_nulls().last().cast(pl.Int8).alias("human_toxic"),
        )
        .select(list(schema))
    )


def _toxic_column(labels: pl.DataFrame) -> pl.Expr:
    """The labels' toxic judgement as a boolean expression (null: not judged)."""
    if "toxic" in labels.columns:
        return pl.col("toxic").cast(pl.Boolean)
    return pl.lit(None, dtype=pl.Boolean)


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)
