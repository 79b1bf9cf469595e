"""The one table reader and the one JSON-lines reader, for users' files and the project's own.

Each failure is one clear line of the caller's error class (``DataError`` unless told): a
missing file, a directory, an unknown file type, an empty file, text that is not UTF-8, a
line that is not a JSON object (named by its number) or a file the parser refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from srllm.errors import DataError

if TYPE_CHECKING:
    import polars as pl

# file type by suffix; each reader names the suffixes it takes
TABLE_TYPES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_ALIASES = {".txt", ".pq", ".ndjson"}  # taken where named, not suggested


def table_type(
    path: Path,
    suffixes: Iterable[str] = (".csv", ".parquet", ".pq"),
    *,
    error: type[Exception] = DataError,
) -> str:
    """``csv``, ``tsv``, ``parquet`` or ``jsonl`` by ``path``'s suffix, if one of ``suffixes``."""
    suffixes = tuple(suffixes)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        hints = [s for s in suffixes if s not in _ALIASES]
        use = ", ".join(hints[:-1]) + f" or {hints[-1]}" if len(hints) > 1 else hints[0]
        raise error(f"{path}: unsupported file type {path.suffix or '(none)'!r}; use {use}")
    return TABLE_TYPES[suffix]


def _existing(path: str | Path, error: type[Exception]) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise error(f"{path} is a directory, not a file")
    if not path.exists():
        raise error(f"file not found: {path}")
    return path


def read_table(
    path: str | Path,
    suffixes: Iterable[str] = (".csv", ".parquet", ".pq"),
    *,
    as_text: bool = True,
    error: type[Exception] = DataError,
) -> pl.DataFrame:
    """A CSV, TSV, Parquet or JSON-lines file (one of ``suffixes``) as a DataFrame.

    ``as_text``: CSV/TSV columns are read as text (else types are inferred), and JSON-lines
    values must be text or null (whole numbers too in ``*_id`` keys) and are kept as text.
    Parquet keeps its types.
    """
    import polars as pl

    path = Path(path).expanduser()
    if not path.is_dir():  # a directory is named as one, whatever its suffix
        table_type(path, suffixes, error=error)
    path = _existing(path, error)
    kind = table_type(path, suffixes, error=error)
    try:
        if kind == "parquet":
            if path.stat().st_size == 0:
                raise error(f"{path}: the file is empty")
            return pl.read_parquet(path)
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
        if not head.replace(b"\xef\xbb\xbf", b"").strip():
            raise error(f"{path}: the file is empty")
        if b"\x00" in head:
            raise error(f"{path} is not UTF-8 text (it holds binary data)")
        if kind == "jsonl":
            return _jsonl_frame(path, read_jsonl(path, error=error), as_text, error)
        sep = "\t" if kind == "tsv" else ","
        if as_text:
            return pl.read_csv(path, separator=sep, infer_schema=False, encoding="utf8")
        return pl.read_csv(path, separator=sep, infer_schema_length=10_000, encoding="utf8")
    except error:
        raise
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text (save it as UTF-8)") from exc
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # the parser's own errors (polars, pyarrow): one line
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if "utf-8" in text.lower() or "utf8" in text.lower():
            raise error(f"{path} is not UTF-8 text (save it as UTF-8)") from exc
        raise error(f"cannot read {path} as {kind}: {text}") from exc


def _jsonl_frame(
    path: Path, rows: list[dict], as_text: bool, error: type[Exception]
) -> pl.DataFrame:
    import polars as pl

    if not as_text:
        return pl.DataFrame(rows, infer_schema_length=None)
    for no, obj in enumerate(rows, 1):
        for key, value in obj.items():
            if value is None or isinstance(value, str):
                continue
            text_only = not key.endswith("_id")
            if text_only or isinstance(value, bool) or not isinstance(value, int):
                want = "text" if text_only else "text or a whole number"
                raise error(
                    f"{path}: record {no}: {key!r} holds {json.dumps(value)[:40]}; expected {want}"
                )
    return pl.DataFrame(
        [{k: None if v is None else str(v) for k, v in obj.items()} for obj in rows],
        infer_schema_length=None,
    )


def read_jsonl(path: str | Path, *, error: type[Exception] = DataError) -> list[dict]:
    """One dict per non-blank line of a UTF-8 JSON-lines file; a bad line is named by number."""
    return [obj for _, obj in read_jsonl_lines(path, error=error)]


def read_jsonl_lines(
    path: str | Path, *, error: type[Exception] = DataError
) -> list[tuple[int, dict]]:
    """``read_jsonl`` with each object's line number, for callers that check the records."""
    path = _existing(path, error)
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise error(f"{path}:{no}: not valid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise error(f"{path}:{no}: expected a JSON object per line")
                rows.append((no, obj))
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text (save it as UTF-8)") from exc
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    return rows
