"""The CLI end to end on the real embedded model and a real DuckDB file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from conftest import FIXTURES, ROOT, run_cli

from srllm.store import Store

CSV = str(FIXTURES / "prompts40.csv")


@pytest.mark.slow
def test_audit_export_rerun_adds_nothing(tmp_path):
    db = str(tmp_path / "a.duckdb")
    res = run_cli(
        "audit",
        "--prompts",
        CSV,
        "--models",
        "base",
        "--db",
        db,
        "--max-new-tokens",
        "24",
        "--run-name",
        "r1",
        "--batch-size",
        "20",
    )
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.strip().splitlines()[-1]
    out = tmp_path / "e.csv"
    assert run_cli("export", "--db", db, "--run", run_id, "--out", str(out)).returncode == 0
    df = pl.read_csv(out)
    assert df.height == 40
    for col in [
        "run_id",
        "model",
        "prompt_id",
        "template_id",
        "axis",
        "group",
        "name",
        "kind",
        "prompt",
        "response",
        "sample_idx",
    ]:
        assert col in df.columns
    assert df["response"].null_count() == 0
    assert df["response"].str.len_chars().min() > 0
    assert df["prompt_id"].n_unique() == 40
    again = run_cli(
        "audit",
        "--prompts",
        CSV,
        "--models",
        "base",
        "--db",
        db,
        "--max-new-tokens",
        "24",
        "--run-name",
        "r1",
    )
    assert again.returncode == 0, again.stderr
    assert "0 new generations" in again.stderr
    assert Store(db).summary()["generations"] == 40
    parquet = tmp_path / "e.parquet"
    assert run_cli("export", "--db", db, "--out", str(parquet)).returncode == 0
    assert pl.read_parquet(parquet).height == 40


def _stored(db) -> int:
    if not db.exists():
        return 0
    try:
        return Store(db, wait_s=5).summary()["generations"]
    except Exception:
        return -1


@pytest.mark.slow
def test_audit_killed_at_random_points_resumes_to_exact_counts(tmp_path):
    """SIGKILL an audit three times at random points; the same command then completes it."""
    db = tmp_path / "k.duckdb"
    total = 40 * 4  # 40 prompts, 4 sampled responses each
    args = [
        *("audit", "--prompts", CSV, "--models", "base", "--db", str(db)),
        *("--max-new-tokens", "16", "--run-name", "k", "--batch-size", "4"),
        *("--samples", "4", "--temperature", "0.7", "--seed", "3"),
    ]
    rng = random.Random(11)
    kills = []
    for _ in range(3):
        before = max(_stored(db), 0)
        target = before + rng.randint(4, 40)
        proc = subprocess.Popen(
            [sys.executable, "-m", "srllm", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if _stored(db) >= target:
                break
            time.sleep(0.1)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills.append(target)
        proc.wait()
        assert _stored(db) <= total
    partial = _stored(db)
    assert kills, "every audit finished before it could be killed"
    assert 0 < partial < total
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert f"{total - partial} new generations, {partial} already stored" in res.stderr
    gens = Store(db).generations()
    assert gens.height == total
    assert gens.select("model", "prompt_id", "sample_idx").n_unique() == total
    assert gens["response"].null_count() == 0
    runs = Store(db).list_runs()
    assert runs.height == 1 and runs["status"][0] == "finished"
    # Once complete, the same command adds nothing.
    again = run_cli(*args)
    assert again.returncode == 0 and "0 new generations" in again.stderr
    assert Store(db).summary()["generations"] == total


def _bad(tmp_path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    "case",
    [
        "missing_column",
        "unknown_set",
        "no_slot",
        "unreadable",
        "unknown_model",
        "binary_junk",
        "empty_file",
        "bad_flag",
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2_with_nothing_written(tmp_path, case):
    db = tmp_path / "bad.duckdb"
    prompts, models, extra = CSV, "base", []
    if case == "missing_column":
        prompts = _bad(tmp_path, "m.csv", "prompt_id,group,prompt\n1,Muslim,Hi\n")
    elif case == "unknown_set":
        prompts = "no-such-set"
    elif case == "no_slot":
        # a template file whose template has no slot: nothing to make counterfactual
        prompts = _bad(tmp_path, "t.jsonl", '{"template_id": "t1", "text": "Write a poem."}\n')
        from srllm.errors import PromptSetError
        from srllm.prompts import check_template

        with pytest.raises(PromptSetError, match="no slot"):
            check_template("Write a poem.")
        with pytest.raises(PromptSetError, match="unknown slot"):
            check_template("Write a poem about {colour}.")
    elif case == "unreadable":
        prompts = _bad(tmp_path, "u.csv", "prompt_id,template_id,group,prompt\n1,t,g,p\n")
        os.chmod(prompts, 0)
        if os.geteuid() == 0:
            prompts = str(tmp_path)  # root reads anything: a directory is unreadable as a file
    elif case == "unknown_model":
        models = "no-such-model"
    elif case == "binary_junk":
        prompts = _bad(tmp_path, "j.parquet", os.urandom(2048))
    elif case == "empty_file":
        prompts = _bad(tmp_path, "e.csv", "")
    elif case == "bad_flag":
        extra = ["--max-new-tokens", "0"]
    res = run_cli("audit", "--prompts", prompts, "--models", models, "--db", str(db), *extra)
    assert res.returncode == 2, (case, res.stdout, res.stderr)
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("srllm: error:"), res.stderr
    if case == "no_slot":
        assert "has no slot" in lines[0], lines[0]
    assert "Traceback" not in res.stderr
    if db.exists():
        assert Store(db).summary()["generations"] == 0


def test_models_lists_the_embedded_base():
    res = run_cli("models")
    assert res.returncode == 0
    assert "base" in res.stdout and "SmolLM2-135M-Instruct" in res.stdout


@pytest.mark.slow
def test_models_prepare_converts_the_embedded_model_into_an_empty_cache_quietly(tmp_path):
    """What scripts/test.sh and scripts/start.sh run at set-up: one line, the files, no bars."""
    cold = tmp_path / "empty-cache"
    env = {"SRLLM_CACHE": str(cold), "HF_HUB_OFFLINE": "1"}
    res = run_cli("models", "--prepare", timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    target = cold / "smollm2-135m-instruct"
    for name in ("srllm_cache.json", "config.json", "model.safetensors", "tokenizer.json"):
        assert (target / name).is_file(), name
    assert res.stdout.strip().splitlines() == [f"base: converted in {target}"]
    assert "%|" not in res.stderr and "it/s" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip() == "", res.stderr[-2000:]
    again = run_cli("models", "--prepare", timeout=120, env=env)
    assert again.stdout.strip() == f"base: already converted in {target}", again.stderr


def test_set_up_scripts_convert_the_embedded_model():
    for script in ("scripts/test.sh", "scripts/start.sh"):
        text = (ROOT / script).read_text()
        assert "-m srllm models --prepare" in text, script


def test_help_of_the_cli_and_of_every_command_prints_and_exits_0(capsys):
    from srllm.cli import build_parser, main

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"audit", "compare", "disparity", "gate", "paper-tables"} <= set(commands)
    for argv in (["--help"], *([c, "--help"] for c in commands)):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0, argv
        assert "usage: python -m srllm" in capsys.readouterr().out, argv


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no nice on this platform")
@pytest.mark.parametrize("step", ["3", "0"])
def test_command_line_runs_at_lower_priority_than_the_dashboard(step):
    """``python -m srllm`` adds SRLLM_NICE (default 10) to its niceness; 0 keeps it."""
    code = "import os, runpy; runpy.run_module('srllm', run_name='x'); print(os.nice(0))"
    env = {**os.environ, "SRLLM_NICE": step}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == min(19, os.nice(0) + int(step))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_dashboard_job_thread_lowers_only_its_own_priority():
    """Background audits of the dashboard are threads: they yield, the pages do not."""
    import threading

    from srllm.config import lower_thread_priority

    main_before = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[int] = []

    def job():
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        seen.extend([before, lower_thread_priority(3), os.getpriority(os.PRIO_PROCESS, tid)])

    t = threading.Thread(target=job)
    t.start()
    t.join()
    assert seen[1] == seen[2] == min(19, seen[0] + 3)
    assert os.getpriority(os.PRIO_PROCESS, 0) == main_before
    assert lower_thread_priority(0) == 0
