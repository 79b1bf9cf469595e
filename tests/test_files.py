"""The one table reader and the one JSON-lines reader, on small real files."""

from __future__ import annotations

import polars as pl
import pytest

from srllm.errors import DataError, PromptSetError
from srllm.files import read_jsonl, read_jsonl_lines, read_table


def test_csv_and_parquet_read_as_text_or_typed(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("id,score\n007,0.5\n8,1.5\n", encoding="utf-8")
    assert read_table(csv)["id"].to_list() == ["007", "8"]  # as text: leading zero kept
    assert read_table(csv, as_text=False)["score"].to_list() == [0.5, 1.5]
    pq = tmp_path / "t.parquet"
    pl.DataFrame({"n": [1, 2]}).write_parquet(pq)
    assert read_table(pq)["n"].to_list() == [1, 2]


def test_jsonl_skips_blank_lines_and_names_a_bad_line(tmp_path):
    good = tmp_path / "g.jsonl"
    good.write_text('{"a": "x"}\n\n   \n{"a": "y", "prompt_id": 3}\n', encoding="utf-8")
    assert read_jsonl(good) == [{"a": "x"}, {"a": "y", "prompt_id": 3}]
    assert [no for no, _ in read_jsonl_lines(good)] == [1, 4]
    table = read_table(good, (".jsonl",))
    assert table.rows() == [("x", None), ("y", "3")]  # as text; a whole-number id too

    bad = tmp_path / "b.jsonl"
    bad.write_text('{"a": "x"}\n\n{"a": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"b\.jsonl:3: not valid JSON"):
        read_jsonl(bad)
    bad.write_text('{"a": "x"}\n["a"]\n', encoding="utf-8")
    with pytest.raises(PromptSetError, match=r"b\.jsonl:2: expected a JSON object per line"):
        read_jsonl(bad, error=PromptSetError)
    bad.write_text('{"prompt": {"a": 1}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"record 1: 'prompt' holds \{\"a\": 1\}; expected text"):
        read_table(bad, (".jsonl",))


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("missing.csv", None, "file not found"),
        ("t.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'; use .csv, .parquet or .jsonl"),
        ("empty.csv", b"\n", "the file is empty"),
        ("empty.parquet", b"", "the file is empty"),
        ("junk.csv", b"a,b\n\x00\x01", "not UTF-8 text"),
        ("latin.csv", "a\ncaf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        ("junk.parquet", b"this is not parquet", "cannot read"),
        ("latin.jsonl", '{"a": "caf\xe9"}\n'.encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_a_bad_file_is_one_clear_line(tmp_path, name, content, says):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_table(path, (".csv", ".parquet", ".jsonl"))
    message = str(info.value)
    assert says in message and "\n" not in message, message


def test_a_directory_is_refused_by_both_readers(tmp_path):
    d = tmp_path / "d.csv"
    d.mkdir()
    for read in (read_table, read_jsonl):
        with pytest.raises(DataError, match="is a directory"):
            read(d)
