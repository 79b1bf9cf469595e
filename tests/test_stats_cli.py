"""``python -m srllm disparity``: files in, table or JSON out; mistakes exit 2 in one line."""

from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import run_cli
from storebuilder import build_store
from test_stats import HOT, make_frame

from srllm.cli import main
from srllm.stats import disparity, disparity_table

FIELDS = ("n", "count", "rate", "ci_low", "ci_high", "p_value", "p_holm", "p_bh")


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_frame(models=("base", "tuned"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["disparity", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_same(rows: list[dict], table: pl.DataFrame) -> None:
    assert len(rows) == table.height
    for got, want in zip(rows, table.iter_rows(named=True), strict=True):
        assert (got["model"], got["group"]) == (want["model"], want["group"])
        for f in FIELDS:
            assert got[f] == pytest.approx(want[f], abs=1e-6), f


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("metric", ["refusal", "toxicity"])
def test_json_from_csv_and_parquet_equals_the_library(tmp_path, capsys, frame, suffix, metric):
    path = tmp_path / f"scores.{suffix}"
    getattr(frame, f"write_{suffix}")(path)
    code, out, err = _run(capsys, "--in", str(path), "--metric", metric, "--json")
    assert code == 0, err
    rows = json.loads(out)
    _assert_same(rows, disparity_table(frame, metric=metric))
    assert rows[0]["group"] == HOT and rows[0]["p_holm"] < 0.05


def test_readable_table_and_summary(tmp_path, capsys, frame):
    path = tmp_path / "scores.csv"
    frame.write_csv(path)
    code, out, _ = _run(capsys, "--in", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["model", "axis", "group", "n"]
    body = [ln for ln in lines[1:] if ln.startswith(("base ", "tuned "))]
    assert len(body) == 10
    flagged = [ln.split()[2] for ln in body if ln.endswith("*")]
    assert flagged == [HOT, HOT]
    res = disparity(frame)
    gaps = res.difference()
    p = res.overall_test()["p_value"][0]
    summary = [ln for ln in lines if ln.startswith("base:")]
    assert len(summary) == 1
    assert f"max-min gap {gaps['difference'][0]:.3f}" in summary[0]
    assert f"most refused: {HOT}" in summary[0]
    assert f"p = {p:.2g}" in summary[0]


def test_missing_column_is_one_line_and_exit_2(tmp_path, capsys, frame):
    path = tmp_path / "scores.csv"
    frame.drop("category").write_csv(path)
    code, out, err = _run(capsys, "--in", str(path), "--json")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "missing column(s) category" in err


def test_missing_file_and_unknown_type_exit_2(tmp_path, capsys):
    code, _, err = _run(capsys, "--in", str(tmp_path / "nope.csv"))
    assert code == 2 and "not found" in err
    other = tmp_path / "scores.xlsx"
    other.write_text("x")
    code, _, err = _run(capsys, "--in", str(other))
    assert code == 2 and "unsupported file type" in err


def test_missing_column_as_a_user_sees_it(tmp_path, frame):
    path = tmp_path / "scores.csv"
    frame.drop("group").write_csv(path)
    res = run_cli("disparity", "--in", str(path), timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "group" in res.stderr
    assert "Traceback" not in res.stderr


def test_rows_without_template_id_are_each_their_own_request(tmp_path, frame):
    """The issue's contract: model, group, kind, category are enough."""
    path = tmp_path / "scores.csv"
    frame.drop("template_id").write_csv(path)
    res = run_cli("disparity", "--in", str(path), "--json", "--kind", "all", timeout=120)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert sum(r["n"] for r in rows) == frame.filter(pl.col("category").is_not_null()).height


def test_reads_a_run_from_the_store(tmp_path, capsys, frame):
    base = frame.filter(pl.col("model") == "base")
    prompts = base.unique("prompt_id", maintain_order=True).select(
        "prompt_id",
        "template_id",
        "axis",
        "group",
        pl.lit(None, pl.String).alias("name"),
        pl.lit("qos").alias("kind"),
        pl.format("Help my {} friend", pl.col("group")).alias("prompt"),
    )
    answers = [
        {
            "model": "base",
            "prompt_id": r["prompt_id"],
            "sample_idx": r["sample_idx"],
            "response": "text",
            "seconds": 0.0,
            "scores": {} if r["category"] is None else {"category": (0.5, r["category"])},
        }
        for r in base.iter_rows(named=True)
    ]
    build_store(
        tmp_path / "s.duckdb",
        answers,
        prompts=prompts,
        run_name="r1",
        source="test",
        score_version="1",
    )
    code, out, err = _run(capsys, "--db", str(tmp_path / "s.duckdb"), "--run", "r1", "--json")
    assert code == 0, err
    _assert_same(json.loads(out), disparity_table(base))
    code, _, err = _run(capsys, "--db", str(tmp_path / "s.duckdb"), "--run", "nope")
    assert code == 2 and "nope" in err
