"""``classify``: add response categories, refusal probability, toxicity and risk to a table."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from srllm.errors import DataError
from srllm.files import read_table, table_type

TYPES = (".csv", ".parquet", ".pq")  # what it reads and writes

ADDED = (
    "category",
    "refusal_prob",
    "toxicity",
    "sentiment",
    "sentiment_label",
    "bias",
    "toxicity_level",
    "harm",
    "unsafe",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``classify`` command."""
    p = sub.add_parser(
        "classify",
        help="score a CSV/Parquet of (prompt, response) rows",
        description="Add category, refusal_prob, toxicity, sentiment, sentiment_label, bias, "
        "toxicity_level, harm and unsafe to every row; the output has the input's format.",
    )
    p.add_argument("--in", dest="input", required=True, help="input PATH.csv or PATH.parquet")
    p.add_argument("--prompt-col", default="prompt", help="prompt column (default: %(default)s)")
    p.add_argument(
        "--response-col", default="response", help="response column (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="output path, same format as the input")
    p.add_argument(
        "--judge",
        metavar="openai:URL#MODEL",
        help="also judge each row with this endpoint (adds judge_category, judge_raw)",
    )
    p.set_defaults(func=cmd_classify)


def write_atomic(df, path: Path) -> None:
    """Write next to ``path`` under a temporary name, then rename: never half-written."""
    fmt = table_type(path, TYPES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if fmt == "csv":
            df.write_csv(tmp)
        else:
            df.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def classify_table(df, prompt_col: str, response_col: str):
    """The input rows with the score columns added (existing columns of those names replaced)."""
    import polars as pl

    from srllm.scoring import score_frame

    missing = [c for c in (prompt_col, response_col) if c not in df.columns]
    if missing:
        raise DataError(
            f"column {missing[0]!r} not found; the file has: {', '.join(df.columns) or '(none)'}"
        )
    for col in (prompt_col, response_col):
        dtype = df.schema[col]
        if dtype not in (pl.String, pl.Null) and not dtype.is_numeric():
            raise DataError(f"column {col!r} must hold text, not {dtype}")
    prompts = df[prompt_col].cast(pl.String).fill_null("").to_list()
    responses = df[response_col].cast(pl.String).to_list()
    scores = score_frame(prompts, responses)
    added = [c for c in (*ADDED, "judge_category", "judge_raw") if c in scores.columns]
    keep = df.drop([c for c in added if c in df.columns and c not in (prompt_col, response_col)])
    return pl.concat(
        [keep, scores.select([c for c in added if c not in keep.columns])], how="horizontal"
    )


def cmd_classify(args: argparse.Namespace) -> int:
    """Read, score, write atomically; print one summary line."""
    src = Path(args.input)
    dst = Path(args.out)
    table_type(dst, TYPES)
    if table_type(src, TYPES) != table_type(dst, TYPES):
        raise DataError(f"--out must have the input's format ({src.suffix}), got {dst.suffix}")
    df = read_table(src, TYPES)  # every CSV column as text
    if args.judge:
        from srllm.scoring import use_judge

        use_judge(args.judge)
    out = classify_table(df, args.prompt_col, args.response_col)
    write_atomic(out, dst)
    counts = out["category"].value_counts().sort("category").rows()
    summary = ", ".join(f"{k} {v}" for k, v in counts)
    print(f"classified {out.height} rows -> {dst} ({summary})")
    return 0
