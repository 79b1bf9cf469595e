"""Readers for the third-party reference data in ``../shared/data`` (read by path, never copied)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from srllm.config import SHARED_DATA, sha256_file  # noqa: F401 - part of this module's API
from srllm.errors import DataError
from srllm.files import read_jsonl

XSTEST_MODELS: tuple[str, ...] = ("gpt4", "llama2new", "mistralinstruct")
XSTEST_LABELS: tuple[str, ...] = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")
# Index of each XSTest label in the three-class model's classes.
XSTEST_INDEX = {label: i for i, label in enumerate(XSTEST_LABELS)}
THREE_CLASSES: tuple[str, ...] = ("answer", "refusal", "partial_answer")


def shared_file(*parts: str, root: str | Path | None = None) -> Path:
    """A file under the shared data folder, or a :class:`DataError` naming the missing path."""
    path = Path(root or SHARED_DATA).joinpath(*parts)
    if not path.exists():
        raise DataError(f"reference data not found at {path}")
    return path


def xstest_path(model: str, root: str | Path | None = None) -> Path:
    """Path of one XSTest v2 completions file."""
    return shared_file("xstest", f"xstest_v2_completions_{model}.csv", root=root)


def load_xstest(root: str | Path | None = None) -> pl.DataFrame:
    """All three XSTest completion files: model, id, type, prompt, completion, final_label, y.

    ``y`` is 0 (compliance), 1 (full refusal) or 2 (partial refusal).
    """
    frames = []
    for model in XSTEST_MODELS:
        df = pl.read_csv(xstest_path(model, root), infer_schema_length=0)
        frames.append(
            df.select(
                pl.lit(model).alias("model"),
                "id",
                "type",
                "prompt",
                pl.col("completion").fill_null(""),
                "final_label",
            )
        )
    out = pl.concat(frames)
    return out.with_columns(
        pl.col("final_label").replace_strict(XSTEST_INDEX, return_dtype=pl.Int64).alias("y")
    )


def toxigen_path(root: str | Path | None = None) -> Path:
    """Path of the ToxiGen statements file."""
    return shared_file("toxigen", "toxigen_statements.csv", root=root)


def load_toxigen(root: str | Path | None = None) -> pl.DataFrame:
    """ToxiGen statements: text, target_group, label, y (1 = hate)."""
    df = pl.read_csv(toxigen_path(root))
    return df.with_columns((pl.col("label") == "hate").cast(pl.Int64).alias("y"))


def davidson_path(root: str | Path | None = None) -> Path:
    """Path of the Davidson et al. tweet file."""
    return shared_file("davidson", "labeled_data.csv", root=root)


def load_davidson_neither(root: str | Path | None = None) -> list[str]:
    """Tweets whose crowd majority was "neither" (class 2): used only as non-toxic examples.

    The file's hate/offensive classes over-flag African-American English; this project never
    trains on them as toxic.
    """
    df = pl.read_csv(davidson_path(root), columns=["class", "tweet"])
    return df.filter(pl.col("class") == 2)["tweet"].cast(pl.String).fill_null("").to_list()


# ---- toxicity training and evaluation sets (binary: 1 = toxic / hateful) -----------------
def _csv(path: Path, sep: str = ",") -> pl.DataFrame:
    return pl.read_csv(path, separator=sep, infer_schema_length=0, quote_char='"')


def load_implicit_hate(root: str | Path | None = None) -> pl.DataFrame:
    """Implicit Hate stg1 posts: text, y (explicit or implicit hate = 1), subset."""
    path = shared_file("implicit_hate", "implicit_hate_v1_stg1_posts.tsv", root=root)
    import csv

    rows = []
    with open(path, encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            rows.append({"text": r["post"] or "", "subset": r["class"]})
    df = pl.DataFrame(rows)
    return df.with_columns((pl.col("subset") != "not_hate").cast(pl.Int64).alias("y"))


def load_sbf(split: str, root: str | Path | None = None) -> pl.DataFrame:
    """Social Bias Frames (aggregated) ``dev`` or ``tst``: text, y (offensiveYN >= 0.5)."""
    path = shared_file("social_bias_frames", f"SBIC.v2.agg.{split}.csv", root=root)
    df = pl.read_csv(path, infer_schema_length=0)
    off = pl.col("offensiveYN").cast(pl.Float64)
    return df.select(
        pl.col("post").fill_null("").alias("text"),
        off.alias("offensive"),
        (off >= 0.5).cast(pl.Int64).alias("y"),
        pl.col("dataSource").alias("subset"),
    )


def load_convabuse(split: str, root: str | Path | None = None) -> pl.DataFrame:
    """ConvAbuse user turns (``train``/``valid``/``test``): text, y (majority abusive).

    Ties between abusive and not-abusive annotators are dropped.
    """
    path = shared_file("convabuse", f"ConvAbuseEMNLP{split}.csv", root=root)
    import csv

    rows = []
    with open(path, encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            abusive = benign = 0.0
            for k in range(1, 9):
                votes = {}
                for lvl in ("1", "0", "-1", "-2", "-3"):
                    cell = (r.get(f"Annotator{k}_is_abuse.{lvl}") or "").strip()
                    if cell:
                        vals = [float(v) for v in cell.split(",") if v.strip()]
                        votes[lvl] = sum(vals) / len(vals)
                if not votes:
                    continue
                if max(votes.get(lv, 0.0) for lv in ("-1", "-2", "-3")) >= 0.5:
                    abusive += 1
                elif max(votes.get("1", 0.0), votes.get("0", 0.0)) >= 0.5:
                    benign += 1
            if abusive == benign:
                continue
            rows.append({"text": r["user"] or "", "y": int(abusive > benign), "subset": r["bot"]})
    return pl.DataFrame(rows)


DIASAFETY_TOXIC = ("Offending User", "Toxicity Agreement", "Biased Opinion")


def load_diasafety(split: str, root: str | Path | None = None) -> pl.DataFrame:
    """DiaSafety pairs: context, response, category, y (Unsafe), toxic_category (bool)."""
    import json

    path = shared_file("diasafety", f"{split}.json", root=root)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return pl.DataFrame(
        [
            {
                "context": d.get("context") or "",
                "text": d.get("response") or "",
                "subset": d.get("category") or "",
                "y": int(d.get("label") == "Unsafe"),
            }
            for d in data
        ]
    ).with_columns(pl.col("subset").is_in(DIASAFETY_TOXIC).alias("toxic_category"))


def load_davidson(root: str | Path | None = None) -> pl.DataFrame:
    """Davidson tweets: text, cls (0 hate, 1 offensive, 2 neither)."""
    df = pl.read_csv(davidson_path(root), columns=["class", "tweet"])
    return df.select(
        pl.col("tweet").cast(pl.String).fill_null("").alias("text"),
        pl.col("class").cast(pl.Int64).alias("cls"),
    )


def load_jigsaw_pair(root: str | Path | None = None) -> pl.DataFrame:
    """Fuzzed Wikipedia Talk test set: rev_id, original, fuzzed, y (toxic)."""
    a = pl.read_csv(shared_file("jigsaw_fuzzed", "toxicity_nonfuzzed_testset.csv", root=root))
    b = pl.read_csv(shared_file("jigsaw_fuzzed", "toxicity_fuzzed_testset.csv", root=root))
    a = a.select("rev_id", pl.col("comment").alias("original"), pl.col("toxic"))
    b = b.select("rev_id", pl.col("comment").alias("fuzzed"))
    df = a.join(b, on="rev_id")
    return df.with_columns(
        pl.col("toxic").cast(pl.String).str.to_lowercase().eq("true").cast(pl.Int64).alias("y")
    )


def load_gptfuzz(split: str, root: str | Path | None = None) -> pl.DataFrame:
    """GPTFuzz responses (``train``/``evaluate``): question_id, question, response, y."""
    qs = pl.read_csv(shared_file("gptfuzz", "question_list.csv", root=root), infer_schema_length=0)
    qcol = "text" if "text" in qs.columns else qs.columns[-1]
    qmap = dict(zip(qs["index"].to_list(), qs[qcol].to_list(), strict=True))
    df = pl.read_csv(shared_file("gptfuzz", f"{split}.csv", root=root), infer_schema_length=0)
    return df.select(
        pl.col("question").alias("question_id"),
        pl.col("question").replace_strict(qmap, default="").alias("question"),
        pl.col("Response").fill_null("").alias("response"),
        pl.col("label").cast(pl.Int64).alias("y"),
    )


def load_do_not_answer(root: str | Path | None = None) -> pl.DataFrame:
    """Do-Not-Answer, long (evaluation only: CC BY-NC-SA).

    Columns: model, risk_area, question, response, action, harmful.
    """
    df = pl.read_csv(shared_file("do_not_answer", "data_en.csv", root=root), infer_schema_length=0)
    models = [c[: -len("_response")] for c in df.columns if c.endswith("_response")]
    frames = [
        df.select(
            pl.lit(m).alias("model"),
            "risk_area",
            pl.col("question"),
            pl.col(f"{m}_response").fill_null("").alias("response"),
            pl.col(f"{m}_action").cast(pl.Int64).alias("action"),
            pl.col(f"{m}_harmful").cast(pl.Int64).alias("harmful"),
        )
        for m in models
    ]
    return pl.concat(frames)


# ---- this project's six-category labelled set (data/labels/) -------------------------------
def labels_dir() -> Path:
    """``data/labels``: the project's own labels (and texts it wrote)."""
    from srllm.config import DATA_DIR

    return DATA_DIR / "labels"


def _shared_text(file: str, root: str | Path | None) -> tuple[list[str], list[str], list[str]]:
    """(prompts, responses, prompt types) of a third-party file, by 0-based data row."""
    import csv

    path = shared_file(*file.split("/"), root=root)
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if file.startswith("xstest/"):
        return (
            [r["prompt"] for r in rows],
            [r["completion"] or "" for r in rows],
            [r["type"] for r in rows],
        )
    if file.startswith("chatgpt_refusals/"):
        return (
            [r["prompt"] for r in rows],
            [r["response"] or "" for r in rows],
            [r["subset"] for r in rows],
        )
    if file.startswith("gptfuzz/"):
        qs = load_gptfuzz(Path(file).stem, root)
        return (
            qs["question"].to_list(),
            qs["response"].to_list(),
            [f"q{q}" for q in qs["question_id"].to_list()],
        )
    raise DataError(f"no reader for labelled file {file}")


def load_labelled_set(
    root: str | Path | None = None,
    *,
    passes: tuple[int, ...] = (1,),
    folder: Path | None = None,
) -> pl.DataFrame:
    """Every first-pass label in ``data/labels`` with its text.

    Columns: key, source, prompt, response, prompt_type, category, annotator. Third-party
    texts are read from ``../shared/data`` by (file, row); texts this project wrote or
    generated are in the label files themselves. ``source`` names the origin (a written style
    file, an XSTest model, ChatGPT refusals, GPTFuzz, the embedded models) for held-out splits.
    ``folder``: read another folder of label files (default ``data/labels``).
    """
    rows: list[dict] = []
    cache: dict[str, tuple[list[str], list[str], list[str]]] = {}
    folder = folder or labels_dir()
    for path in sorted(folder.glob("*.jsonl")):
        for rec in read_jsonl(path):
            if int(rec.get("pass", 1)) not in passes or "category" not in rec:
                continue
            if "file" in rec:
                file = rec["file"]
                if file not in cache:
                    cache[file] = _shared_text(file, root)
                prompts, responses, types = cache[file]
                i = int(rec["row"])
                src = rec.get("source", file.split("/")[0])
                if src == "xstest":
                    src = "xstest_" + Path(file).stem.rsplit("_", 1)[-1]
                rows.append(
                    {
                        "key": f"{file}#{i}",
                        "source": src,
                        "prompt": prompts[i],
                        "response": responses[i],
                        "prompt_type": types[i],
                        "category": rec["category"],
                        "annotator": rec.get("annotator"),
                    }
                )
            elif "response" in rec:
                rows.append(
                    {
                        "key": rec["item_id"],
                        "source": rec.get("source", path.stem),
                        "prompt": rec.get("prompt") or "",
                        "response": rec["response"] or "",
                        "prompt_type": rec.get("prompt_type") or "unknown",
                        "category": rec["category"],
                        "annotator": rec.get("annotator"),
                    }
                )
    if not rows:
        raise DataError(f"no labels found in {folder}")
    return pl.DataFrame(rows).unique("key", keep="first", maintain_order=True)


# GPTFuzz's own human labels as training rows for the six-class model: a jailbroken response
# (label 1) complies with a harmful question, so it is a harmful_answer; the others are refusals.
# On the 200 rows this project labelled by the guide the mapping agrees with 191 (0.955).
GPTFUZZ_AUTHOR_CATEGORIES = {1: "harmful_answer", 0: "refusal"}
GPTFUZZ_AUTHOR_NEGATIVES = 1700
GPTFUZZ_AUTHORS = "gptfuzz-authors"
# Each such row weighs this much against one of this project's labels (classes are balanced
# over weighted counts): chosen from 0, 0.1, 0.25 and 0.5 on two by-source folds and GPTFuzz
# evaluate (data/scoring/TRAINING.md).
GPTFUZZ_AUTHOR_WEIGHT = 0.1


def gptfuzz_author_rows(
    labelled: pl.DataFrame,
    root: str | Path | None = None,
    *,
    negatives: int = GPTFUZZ_AUTHOR_NEGATIVES,
    seed: int = 0,
) -> pl.DataFrame:
    """GPTFuzz **train** rows this project did not label, with the authors' label mapped.

    Every jailbroken row and ``negatives`` of the others (a seeded sample), in the columns of
    :func:`load_labelled_set` (source ``gptfuzz``, prompt type the question id, annotator
    ``GPTFUZZ_AUTHORS``; see :func:`row_weights`). Rows already in ``labelled`` are left
    out: this project's labels win.
    """
    import numpy as np

    done = set(labelled["key"].to_list())
    g = (
        load_gptfuzz("train", root)
        .with_row_index("row")
        .with_columns(pl.format("gptfuzz/train.csv#{}", pl.col("row")).alias("key"))
        .filter(~pl.col("key").is_in(list(done)))
    )
    pos, neg = g.filter(pl.col("y") == 1), g.filter(pl.col("y") == 0)
    take = np.random.default_rng(seed).choice(neg.height, min(negatives, neg.height), replace=False)
    return pl.concat([pos, neg[take.tolist()]]).select(
        "key",
        pl.lit("gptfuzz").alias("source"),
        pl.col("question").alias("prompt"),
        "response",
        pl.format("q{}", pl.col("question_id")).alias("prompt_type"),
        pl.col("y")
        .replace_strict(GPTFUZZ_AUTHOR_CATEGORIES, return_dtype=pl.String)
        .alias("category"),
        pl.lit(GPTFUZZ_AUTHORS).alias("annotator"),
    )


def row_weights(frame: pl.DataFrame):
    """Training weight of each labelled row (None when every row weighs 1).

    1 for this project's labels, ``GPTFUZZ_AUTHOR_WEIGHT`` for the GPTFuzz authors' rows.
    """
    import numpy as np

    authors = (frame["annotator"] == GPTFUZZ_AUTHORS).fill_null(False).to_numpy()
    return np.where(authors, GPTFUZZ_AUTHOR_WEIGHT, 1.0) if authors.any() else None
