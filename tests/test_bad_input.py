"""The bad-input catalogue: every malformed input gets one clear message and writes nothing.

Across the CLI (exit status 2, one line on stderr, no traceback), the prompt importers and
template expansion (one ``PromptSetError`` line), the training data loader and flags of
``train.py`` (exit 2, one line, no output directory) and the pages (``st.error``, no
exception). Nothing here loads a model: every mistake is caught before that.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import ROOT, run_cli
from safetensors.numpy import save_file
from storebuilder import build_store, synthetic_prompts
from streamlit.testing.v1 import AppTest

from srllm.errors import PromptSetError
from srllm.store import Store

HEADER = "prompt_id,template_id,group,prompt\n"
GOOD_CSV = HEADER + "t1:muslim,t1,Muslim,Suggest a gift for my Muslim coworker.\n"
HUGE = 10 * 1024 * 1024  # a 10 MB prompt


# -- files a user might hand us ------------------------------------------------------------
def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _adapter(tmp: Path, name: str, *, hidden: int = 576, layer: int = 0) -> Path:
    """A PEFT LoRA adapter directory (safetensors) for q_proj of one layer."""
    d = tmp / name
    d.mkdir()
    (d / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "task_type": "CAUSAL_LM",
                "r": 4,
                "lora_alpha": 8,
                "target_modules": ["q_proj"],
                "base_model_name_or_path": "meta-llama/Llama-2-7b-chat-hf",
            }
        )
    )
    prefix = f"base_model.model.model.layers.{layer}.self_attn.q_proj"
    save_file(
        {
            f"{prefix}.lora_A.weight": np.zeros((4, hidden), np.float32),
            f"{prefix}.lora_B.weight": np.zeros((hidden, 4), np.float32),
        },
        str(d / "adapter_model.safetensors"),
    )
    return d


def _truncated_adapter(tmp: Path) -> Path:
    d = _adapter(tmp, "truncated")
    f = d / "adapter_model.safetensors"
    f.write_bytes(f.read_bytes()[:-1000])
    return d


def _store_with_run(path: Path, name: str = "existing") -> Path:
    prompts = synthetic_prompts(
        [("t", "Muslim")], prompt_id="p1", text="Plan a trip for my {g} friend.", axis="religion"
    )
    build_store(path, prompts=prompts, run_name=name, source="test", prompt_set_hash="another-set")
    return path


def _newer_schema(path: Path) -> Path:
    Store(path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, now())")
    con.close()
    return path


def _read_only_dir(tmp: Path) -> Path:
    """A directory nobody can write to (root ignores permissions: /sys is read-only)."""
    if os.geteuid() == 0:
        probe = Path("/sys/srllm-write-probe")
        try:
            probe.write_text("x")
        except OSError:
            return Path("/sys")
        probe.unlink()
        pytest.skip("no read-only directory available to root here")
    d = tmp / "read-only"
    d.mkdir()
    d.chmod(0o555)
    return d


# -- the CLI -------------------------------------------------------------------------------
@dataclass
class Case:
    """One malformed input: how to build it, and what the message must mention."""

    build: Callable[[Path], list[str]]
    says: str
    existing_db: Callable[[Path], Path] | None = field(default=None)


def _audit(prompts: str | Path, *extra: str, models: str = "base") -> list[str]:
    return ["audit", "--prompts", str(prompts), "--models", models, *extra]


CLI_CASES: dict[str, Case] = {
    # prompt files: columns, types, encodings, sizes, shapes
    "csv_semicolon_delimiter": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV.replace(",", ";"))), "semicolons"
    ),
    "csv_not_utf8": Case(
        lambda t: _audit(
            _write(t / "p.csv", GOOD_CSV.replace("Muslim", "Musl\xefm").encode("latin-1"))
        ),
        "not UTF-8",
    ),
    "csv_binary_junk": Case(
        lambda t: _audit(_write(t / "p.csv", os.urandom(4096) + b"\x00")), "not UTF-8"
    ),
    "csv_header_only": Case(lambda t: _audit(_write(t / "p.csv", HEADER)), "no rows"),
    "csv_empty_group": Case(
        lambda t: _audit(_write(t / "p.csv", HEADER + "p1,t1,,Hello there.\n")), "empty value"
    ),
    "csv_duplicate_ids": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV + GOOD_CSV.splitlines()[1] + "\n")),
        "more than once",
    ),
    "csv_10mb_prompt": Case(
        lambda t: _audit(_write(t / "p.csv", HEADER + "p1,t1,Muslim," + "a" * HUGE + "\n")),
        "10,485,760 characters",
    ),
    "jsonl_broken_line": Case(
        lambda t: _audit(
            _write(
                t / "p.jsonl",
                '{"prompt_id": "1", "template_id": "t", "group": "g", "prompt": "p"}\n'
                '{"prompt_id": "2", "template_id": "t", "group": \n',
            )
        ),
        "p.jsonl:2: not valid JSON",
    ),
    "jsonl_array_lines": Case(
        lambda t: _audit(_write(t / "p.jsonl", '["a", "b"]\n')), "JSON object per line"
    ),
    "jsonl_prompt_is_an_object": Case(
        lambda t: _audit(
            _write(
                t / "p.jsonl",
                json.dumps({"prompt_id": 1, "template_id": "t", "group": "g", "prompt": {"a": 1}}),
            )
        ),
        "'prompt' holds",
    ),
    "jsonl_whitespace_only": Case(lambda t: _audit(_write(t / "p.jsonl", "\n  \n\n")), "empty"),
    "parquet_wrong_dtypes": Case(
        lambda t: _audit(
            _parquet(
                t / "p.parquet",
                {"prompt_id": [1], "template_id": [1.5], "group": ["g"], "prompt": ["p"]},
            )
        ),
        "'template_id' holds Float64",
    ),
    "parquet_numeric_prompts": Case(
        lambda t: _audit(
            _parquet(
                t / "p.parquet",
                {"prompt_id": ["a"], "template_id": ["t"], "group": ["g"], "prompt": [3.5]},
            )
        ),
        "'prompt' holds Float64",
    ),
    "parquet_wrong_columns": Case(
        lambda t: _audit(_parquet(t / "p.parquet", {"text": ["hello"], "label": ["x"]})),
        "missing column",
    ),
    "parquet_empty_file": Case(lambda t: _audit(_write(t / "p.parquet", b"")), "empty"),
    "srllm_wide_without_variants": Case(
        lambda t: _audit(_write(t / "p.csv", "Original\nSome biased text.\n")), "variant"
    ),
    "unsupported_extension": Case(lambda t: _audit(_write(t / "p.xlsx", b"PK\x03\x04")), ".csv"),
    "prompts_is_a_directory": Case(lambda t: _audit(t), "is a directory"),
    "prompts_path_missing": Case(lambda t: _audit(t / "nope.csv"), "neither a built-in set"),
    # models and adapters
    "hub_model_not_downloaded": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), models="no-such-org/no-such-model"),
        "not in the local Hugging Face cache",
    ),
    "two_models_one_name": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), models="base,base"), "share a name"
    ),
    "adapter_for_another_base": Case(
        lambda t: _audit(
            _write(t / "p.csv", GOOD_CSV), models=f"base+{_adapter(t, 'l2', hidden=4096)}"
        ),
        "made for another base model",
    ),
    "adapter_layers_base_lacks": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), models=str(_adapter(t, "deep", layer=95))),
        "has no layer",
    ),
    "adapter_truncated_safetensors": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), models=f"base+{_truncated_adapter(t)}"),
        "truncated or corrupt",
    ),
    "adapter_config_not_json": Case(
        lambda t: _audit(
            _write(t / "p.csv", GOOD_CSV),
            models=f"base+{_bad_config(_adapter(t, 'cfg'))}",
        ),
        "unreadable",
    ),
    "adapter_pickle_weights_only": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), models=f"base+{_pickle_only(t)}"),
        "no safetensors",
    ),
    # flag values
    "negative_max_new_tokens": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--max-new-tokens", "-5"),
        "max_new_tokens",
    ),
    "batch_size_zero": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--batch-size", "0"), "batch_size"
    ),
    "samples_zero": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--samples", "0"), "samples"
    ),
    "samples_while_greedy": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--samples", "3"), "temperature"
    ),
    "top_p_zero": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--temperature", "0.7", "--top-p", "0"),
        "top_p",
    ),
    "limit_zero": Case(lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--limit", "0"), "limit"),
    "max_tokens_not_a_number": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--max-new-tokens", "lots"),
        "invalid int value",
    ),
    # the store
    "db_from_a_newer_schema": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV)), "newer than this srllm", _newer_schema
    ),
    "db_not_duckdb": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV)),
        "not a valid DuckDB database",
        lambda p: _write(p, os.urandom(8192)),
    ),
    "db_is_a_directory": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV)), "is a directory", lambda p: _mkdir(p)
    ),
    "resume_with_other_prompts": Case(
        lambda t: _audit(_write(t / "p.csv", GOOD_CSV), "--run-name", "existing"),
        "different prompt set",
        _store_with_run,
    ),
    "db_in_a_read_only_directory": Case(
        lambda t: [
            *_audit(_write(t / "p.csv", GOOD_CSV)),
            "--db",
            str(_read_only_dir(t) / "s.duckdb"),
        ],
        "cannot open",
    ),
    "db_under_a_file": Case(
        lambda t: [
            *_audit(_write(t / "p.csv", GOOD_CSV)),
            "--db",
            str(_write(t / "f.txt", "x") / "s.duckdb"),
        ],
        "Not a directory",
    ),
    # other commands
    "export_bad_suffix": Case(
        lambda t: ["export", "--out", str(t / "out.xlsx")], "must end in .csv", _store_with_run
    ),
    "export_into_read_only_dir": Case(
        lambda t: ["export", "--out", str(_read_only_dir(t) / "out.csv")],
        "cannot write",
        _store_with_run,
    ),
    "export_under_a_file": Case(
        lambda t: ["export", "--out", str(_write(t / "f.txt", "x") / "out.csv")],
        "is a file, not a directory",
        _store_with_run,
    ),
    "export_unknown_run": Case(
        lambda t: ["export", "--run", "nope", "--out", str(t / "out.csv")],
        "no run",
        _store_with_run,
    ),
    "score_without_a_store": Case(lambda t: ["score", "--run", "x"], "no store"),
    "runs_on_junk": Case(
        lambda t: ["runs"], "not a valid DuckDB", lambda p: _write(p, b"junk" * 3000)
    ),
    "gate_on_newer_schema": Case(
        lambda t: ["gate", "--run", "x", "--max-refusal-gap", "0.1"], "newer", _newer_schema
    ),
    "gate_limit_out_of_range": Case(
        lambda t: ["gate", "--run", "existing", "--max-refusal-gap", "-1"],
        "between 0 and 1",
        _store_with_run,
    ),
}


def _parquet(path: Path, columns: dict) -> Path:
    pl.DataFrame(columns).write_parquet(path)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _bad_config(adapter: Path) -> Path:
    (adapter / "adapter_config.json").write_text("{'peft_type': LORA")
    return adapter


def _pickle_only(tmp: Path) -> Path:
    d = _adapter(tmp, "pickled")
    (d / "adapter_model.safetensors").unlink()
    (d / "adapter_model.bin").write_bytes(b"\x80\x04K\x01.")
    return d


def _db_state(db: Path) -> object:
    """What a failed command must leave unchanged: the file's absence, bytes, or rows."""
    if not db.exists():
        return None
    if db.is_dir():
        return "directory"
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return db.read_bytes()
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("runs", "prompts", "generations", "scores", "schema_version")
        }
    finally:
        con.close()


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_cli_gives_one_line_exit_2_and_writes_nothing(tmp_path, name):
    case = CLI_CASES[name]
    db = tmp_path / "store.duckdb"
    if case.existing_db is not None:
        case.existing_db(db)
    before = _db_state(db)
    args = case.build(tmp_path)
    if "--db" not in args:
        args += ["--db", str(db)]
    res = run_cli(*args, timeout=300)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr[-2000:])
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("srllm: error: "), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert case.says in lines[0], lines[0]
    assert res.stdout == ""
    # Nothing half-written: the store (or its absence) is as it was, no export appeared.
    assert _db_state(db) == before
    for f in tmp_path.rglob("*"):
        assert not f.name.startswith(("out.", ".out.")), f


def test_cli_mistake_is_one_line_from_a_cold_model_cache(tmp_path):
    """The first command on a new machine converts the embedded GGUF: still one line."""
    cold = tmp_path / "cold-cache"
    args = [*CLI_CASES["adapter_for_another_base"].build(tmp_path), "--db", str(tmp_path / "s.db")]
    res = run_cli(*args, timeout=600, env={"SRLLM_CACHE": str(cold)})
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(lines) == 1 and "made for another base model" in lines[0], res.stderr[-3000:]
    assert (cold / "smollm2-135m-instruct" / "srllm_cache.json").is_file()  # it did convert


# -- importers and template expansion -------------------------------------------------------
def _templates(tmp: Path, *lines: str) -> list[dict]:
    from srllm.prompts import read_templates

    return read_templates(_write(tmp / "t.jsonl", "\n".join(lines) + "\n"))


IMPORTER_CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "template_unknown_slot": (
        lambda t: _expand(_templates(t, '{"template_id": "a", "text": "Help my {colour} pal."}')),
        "unknown slot(s) ['colour']",
    ),
    "template_without_slot": (
        lambda t: _expand(_templates(t, '{"template_id": "a", "text": "Help my pal."}')),
        "has no slot",
    ),
    "template_malformed_braces": (
        lambda t: _expand(_templates(t, '{"template_id": "a", "text": "Help my {group pal."}')),
        "malformed template",
    ),
    "template_mixes_name_and_group": (
        lambda t: _expand(_templates(t, '{"template_id": "a", "text": "{name} and {group}"}')),
        "mixes a name slot",
    ),
    "template_file_lacks_text": (
        lambda t: _templates(t, '{"template_id": "a", "prompt": "Help my {group} pal."}'),
        "not a template object",
    ),
    "template_text_not_a_string": (
        lambda t: _templates(t, '{"template_id": "a", "text": ["Help"]}'),
        "'text' must be a string",
    ),
    "template_file_empty": (lambda t: _templates(t, ""), "no templates"),
    "unknown_groups": (
        lambda t: _expand(
            [{"template_id": "a", "text": "Help my {group} pal."}], only={"Martian", "Muslim"}
        ),
        "unknown group(s) 'Martian'",
    ),
    "groups_file_entry_lacks_plural": (
        lambda t: _groups(t, "axes:\n  religion:\n    - {group: Muslim, adj: Muslim}\n"),
        "lacks 'plural'",
    ),
    "groups_file_not_a_mapping": (lambda t: _groups(t, "- just\n- a list\n"), "mapping"),
    "names_file_entry_lacks_name": (
        lambda t: _names(t, "origins:\n  Arab:\n    - {gender: f}\n"),
        "lacks 'name'",
    ),
}


def _expand(templates: list[dict], only: set[str] | None = None) -> object:
    from srllm.prompts import expand_templates

    return expand_templates(templates, kind="test", only_groups=only)


def _groups(tmp: Path, text: str) -> object:
    from srllm.prompts import load_groups

    return load_groups(_write(tmp / "groups.yaml", text))


def _names(tmp: Path, text: str) -> object:
    from srllm.prompts import load_names

    return load_names(_write(tmp / "names.yaml", text))


@pytest.mark.parametrize("name", sorted(IMPORTER_CASES))
def test_importer_raises_one_clear_prompt_set_error(tmp_path, name):
    build, says = IMPORTER_CASES[name]
    with pytest.raises(PromptSetError) as info:
        build(tmp_path)
    message = str(info.value)
    assert says in message and "\n" not in message, message


def test_a_bom_csv_is_read_with_its_header_intact(tmp_path):
    from srllm.prompts import load_prompt_set

    path = tmp_path / "bom.csv"
    path.write_text(GOOD_CSV, encoding="utf-8-sig")
    df = load_prompt_set(path)
    assert df["prompt_id"].to_list() == ["t1:muslim"] and df["group"].to_list() == ["Muslim"]


# -- the training data loader and train.py's flags ------------------------------------------
PAIR = json.dumps({"prompt": "Share a tip.", "response": "Drink water."})
TRAIN_CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "train_line_not_json": (
        lambda t: _data(t, PAIR + "\n{not json}\n"),
        "t.jsonl:2: not valid JSON",
    ),
    "train_line_not_an_object": (lambda t: _data(t, '["a", "b"]\n'), "expected a JSON object"),
    "train_wrong_keys": (lambda t: _data(t, '{"question": "a", "answer": "b"}\n'), "needs 'text'"),
    "train_number_as_text": (
        lambda t: _data(t, '{"text": 5, "benign_variation": "Five."}\n'),
        "'text' must be text",
    ),
    "train_null_response": (
        lambda t: _data(t, '{"prompt": "Hi", "response": null}\n'),
        "'response' must be text",
    ),
    "train_empty_response": (
        lambda t: _data(t, '{"prompt": "Hi", "response": "  "}\n'),
        "empty prompt or response",
    ),
    "train_empty_file": (lambda t: _data(t, ""), "no training examples"),
    "train_binary_junk": (lambda t: _data(t, os.urandom(2048) + b"\xff"), "not UTF-8"),
    "train_data_is_a_directory": (lambda t: ["--data", str(t)], "is a directory"),
    "train_data_missing": (lambda t: ["--data", str(t / "nope.jsonl")], "not found"),
    "train_lora_rank_zero": (lambda t: [*_data(t, PAIR), "--lora-r", "0"], "--lora-r"),
    "train_batch_size_zero": (
        lambda t: [*_data(t, PAIR), "--per-device-train-batch-size", "0"],
        "--per-device-train-batch-size",
    ),
    "train_learning_rate_negative": (
        lambda t: [*_data(t, PAIR), "--learning-rate", "-0.1"],
        "--learning-rate",
    ),
    "train_flag_not_a_number": (lambda t: [*_data(t, PAIR), "--lora-r", "big"], "not a number"),
    "train_unknown_preset": (lambda t: [*_data(t, PAIR), "--preset", "huge"], "unknown preset"),
    "train_config_bad_yaml": (
        lambda t: [*_data(t, PAIR), "--config", str(_write(t / "c.yaml", "lora_r: [\n"))],
        "not valid YAML",
    ),
    "train_config_unknown_key": (
        lambda t: [*_data(t, PAIR), "--config", str(_write(t / "c.yaml", "lora_rank: 8\n"))],
        "unknown argument",
    ),
    "train_unknown_base_model": (
        lambda t: [*_data(t, PAIR), "--model", "no-such-model"],
        "unknown model",
    ),
}


def _data(tmp: Path, content: str | bytes) -> list[str]:
    return ["--data", str(_write(tmp / "t.jsonl", content))]


@pytest.mark.parametrize("name", sorted(TRAIN_CASES))
def test_train_gives_one_line_exit_2_and_no_output(tmp_path, name):
    import subprocess
    import sys

    build, says = TRAIN_CASES[name]
    out = tmp_path / "adapter-out"
    args = build(tmp_path)
    preset = [] if "--preset" in args else ["--preset", "smoke"]
    res = subprocess.run(
        [sys.executable, "train.py", *preset, "--output", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 2, (res.stdout, res.stderr[-2000:])
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("train.py: error: "), res.stderr[-2000:]
    assert says in lines[0], lines[0]
    assert not out.exists()


# -- the pages ------------------------------------------------------------------------------
def _app(db: Path, run: str | None = None, models: list[str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["db_path"] = str(db)
    if run:
        at.session_state["run_id"] = run
    at.session_state["models"] = models or ["base"]
    return at


@dataclass
class PageCase:
    """What a user does on a page, what the store holds first, what the error must say."""

    act: Callable[[AppTest, Path], None]
    says: str
    store: Callable[[Path], Path] | None = None
    models: list[str] = field(default_factory=lambda: ["base"])
    run: str | None = "some-run"
    broken_default_adapter: bool = False


def _open(page: str) -> Callable[[AppTest, Path], None]:
    def act(at: AppTest, tmp: Path) -> None:
        if page != "pages/overview.py":
            at.switch_page(page).run()

    return act


def _launch(prompts: Callable[[Path], Path]) -> Callable[[AppTest, Path], None]:
    def act(at: AppTest, tmp: Path) -> None:
        at.switch_page("pages/audit_runs.py").run()
        box = next(w for w in at.text_input if w.label.startswith("…or a prompt file"))
        box.set_value(str(prompts(tmp)))
        next(b for b in at.button if b.label == "Launch").click().run()

    return act


def _probe(text: str, click: bool = False) -> Callable[[AppTest, Path], None]:
    def act(at: AppTest, tmp: Path) -> None:
        at.switch_page("pages/live_probe.py").run()
        box = next(w for w in at.text_input if w.label == "Request (with a slot)")
        box.set_value(text).run()
        if click:
            next(b for b in at.button if b.label == "Run probe").click().run()

    return act


def _junk(p: Path) -> Path:
    return _write(p, os.urandom(8192))


def _store_with_lost_model(p: Path) -> Path:
    """A run audited with a model that this machine cannot load (the sidebar offers it)."""
    build_store(
        p,
        prompts=synthetic_prompts([]),
        run_name="lost-model",
        source="test",
        models=["no-such-model"],
        finished=True,
    )
    return p


def _good_csv(t: Path) -> Path:
    return _write(t / "p.csv", GOOD_CSV)


PAGE_CASES: dict[str, PageCase] = {
    "overview_store_not_duckdb": PageCase(_open("pages/overview.py"), "not a valid", _junk),
    "overview_store_newer_schema": PageCase(
        _open("pages/overview.py"), "newer than this srllm", _newer_schema
    ),
    "overview_store_is_a_directory": PageCase(_open("pages/overview.py"), "is a directory", _mkdir),
    "disparities_store_not_duckdb": PageCase(_open("pages/disparities.py"), "not a valid", _junk),
    "review_store_newer_schema": PageCase(
        _open("pages/review.py"), "newer than this srllm", _newer_schema
    ),
    "report_store_not_duckdb": PageCase(_open("pages/report.py"), "not a valid", _junk),
    "launch_file_with_wrong_columns": PageCase(
        _launch(lambda t: _write(t / "p.csv", "text,label\nhello,x\n")), "missing column"
    ),
    "launch_10mb_prompt": PageCase(
        _launch(lambda t: _write(t / "p.csv", HEADER + "p1,t1,Muslim," + "a" * HUGE + "\n")),
        "the limit is",
    ),
    "launch_binary_junk": PageCase(
        _launch(lambda t: _write(t / "p.jsonl", os.urandom(4096) + b"\x00")), "not UTF-8"
    ),
    "launch_directory": PageCase(_launch(lambda t: t), "is a directory"),
    "audit_runs_store_newer_schema": PageCase(
        _open("pages/audit_runs.py"), "newer than this srllm", _newer_schema
    ),
    "launch_model_this_machine_lacks": PageCase(
        _launch(_good_csv),
        "unknown model 'no-such-model'",
        _store_with_lost_model,
        models=["no-such-model"],
        run=None,
    ),
    "launch_corrupt_default_adapter": PageCase(
        _launch(_good_csv),
        "truncated or corrupt",
        models=["tuned"],
        broken_default_adapter=True,
    ),
    "probe_unknown_slot": PageCase(_probe("Plan a party for my {colour} friend."), "unknown slot"),
    "probe_no_slot": PageCase(_probe("Plan a party for my friend."), "has no slot"),
    "probe_malformed_braces": PageCase(_probe("Plan a party for my {group friend."), "malformed"),
    "probe_model_this_machine_lacks": PageCase(
        _probe("Plan a party for my {group} friend.", click=True),
        "None of the picked models can be loaded here",
        _store_with_lost_model,
        models=["no-such-model"],
        run=None,
    ),
}


@pytest.mark.parametrize("name", sorted(PAGE_CASES))
def test_page_shows_one_error_and_no_exception(tmp_path, monkeypatch, name):
    case = PAGE_CASES[name]
    db = tmp_path / "store.duckdb"
    if case.store is not None:
        case.store(db)
    if case.broken_default_adapter:
        adapters = tmp_path / "adapters"
        adapters.mkdir()
        shutil.move(_truncated_adapter(tmp_path), adapters / "broken")
        monkeypatch.setattr("srllm.models.loading.ADAPTERS_DIR", adapters)
    before = _db_state(db)
    at = _app(db, run=case.run, models=case.models).run()
    case.act(at, tmp_path)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert case.says in errors[0] and "Traceback" not in errors[0], errors
    assert not any(s.value.startswith("Launched") for s in at.success)
    assert _db_state(db) == before  # nothing written for a mistake


def test_a_model_that_fails_to_load_leaves_no_run_behind(tmp_path):
    from srllm.config import GenerationConfig, RunConfig
    from srllm.errors import ModelError
    from srllm.pipeline import run_audit

    def loader(spec):  # what a model that passes every check but does not load does
        raise ModelError(f"cannot load model {spec.source!r}: out of memory")

    db = tmp_path / "s.duckdb"
    cfg = RunConfig(
        prompts=str(_write(tmp_path / "p.csv", GOOD_CSV)),
        models=("base",),
        run_name="r",
        generation=GenerationConfig(max_new_tokens=4),
    )
    with pytest.raises(ModelError, match="out of memory"):
        run_audit(cfg, db, loader=loader)
    assert Store(db).list_runs().height == 0
    # A run being resumed keeps what it has and is marked failed.
    from srllm.prompts import load_prompt_set, prompt_set_hash

    prompts = load_prompt_set(cfg.prompts)
    store = Store(db)
    build_store(
        store,
        [{"model": "base", "prompt_id": "t1:muslim", "response": "Sure.", "n_tokens": 2}],
        prompts=prompts,
        run_name="r",
        source=cfg.prompts,
        prompt_set_hash=prompt_set_hash(prompts),
    )
    again = RunConfig(
        prompts=cfg.prompts, models=("base", "other=base"), run_name="r", generation=cfg.generation
    )
    with pytest.raises(ModelError):
        run_audit(again, db, loader=loader)
    runs = store.list_runs()
    assert runs["status"].to_list() == ["failed"] and runs["n_generations"].to_list() == [1]
