"""Readers for the third-party reference data in ``../shared/data`` (read by path, never copied)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from srllm.config import SHARED_DATA
from srllm.errors import DataError

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


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
