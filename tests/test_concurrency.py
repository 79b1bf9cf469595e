"""One DuckDB file, many users at once: no lock error reaches anyone and nothing is lost.

- threads of one process and a second process write the same file at the same time;
- the real Streamlit server (with a real browser session when Chromium is installed) and
  AppTest sessions read the file while a CLI audit writes it: reads never fail, counts never
  go down, the overview says a run is in progress, and the final counts are exact;
- two dashboard sessions launch audits at the same moment: both finish, each row once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest
from conftest import FIXTURES, ROOT, start_streamlit, stop_process
from streamlit.testing.v1 import AppTest

from srllm.store import Store

CSV = FIXTURES / "prompts40.csv"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What a user must never see on a page.
PROBLEMS = ("Traceback", "busy", "Store unreadable", "Something went wrong", "IO Error", "lock")

# What one writer does: a run of PROMPTS prompts, stored in chunks of 5 with scores, reading
# the store between chunks as the dashboard would. Used by threads here and by a subprocess.
WRITER = """
import polars as pl
from srllm.prompts import PROMPT_COLUMNS
from srllm.store import GenerationRow, ScoreRow, Store

def write_run(db, name, n):
    store = Store(db)
    prompts = pl.DataFrame(
        [{"prompt_id": f"p{j:03d}", "template_id": "t", "axis": "a", "group": f"g{j % 4}",
          "name": None, "kind": "qos", "prompt": f"prompt {j}"} for j in range(n)],
        schema={c: pl.String for c in PROMPT_COLUMNS},
    )
    run = store.create_run(run_name=name, prompts=prompts, prompt_source="t",
                           prompt_set_hash="h", config={}, models=[], git_commit=None,
                           versions={}, seed=0)
    for start in range(0, n, 5):
        rows = [GenerationRow(run, "m", f"p{j:03d}", 0, "r", n_tokens=1, seconds=0.1,
                              scores=(ScoreRow("category", "t", 0.1, "answer"),))
                for j in range(start, min(n, start + 5))]
        store.add_generations(rows)
        store.summary()
        store.list_runs()
        store.set_run_status(run, "running")
    store.set_run_status(run, "finished")
"""
PROMPTS = 40


def _write_run(db: Path, name: str, n: int) -> None:
    namespace: dict = {}
    exec(WRITER, namespace)
    namespace["write_run"](db, name, n)


def test_threads_and_another_process_write_one_new_file_at_once(tmp_path):
    db = tmp_path / "shared.duckdb"  # new: the first writers also race to create the schema
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER + f"\nfor i in range(3):\n    write_run({str(db)!r}, f'proc-{{i}}', {PROMPTS})",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []

    def work(i: int) -> None:
        try:
            _write_run(db, f"thread-{i}", PROMPTS)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, err = other.communicate(timeout=300)
    assert not errors, errors
    assert other.returncode == 0, err
    store = Store(db)
    runs = store.list_runs()
    assert runs.height == 7
    assert set(runs["status"]) == {"finished"}
    assert set(runs["n_generations"]) == {PROMPTS}
    assert store.summary()["generations"] == 7 * PROMPTS
    assert store.summary()["scores"] == 7 * PROMPTS


# -- the real dashboard and a CLI audit on one file ---------------------------------------
def _health(url: str) -> str:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
        return r.read().decode().strip()


def _app(db: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["db_path"] = str(db)
    at.session_state["models"] = ["base"]
    return at


class _Browser:
    """A real browser session on the server, when Playwright and Chromium are installed."""

    def __init__(self, url: str):
        self.page = None
        if not Path(CHROMIUM).exists():
            return
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            return
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        self.page = self._browser.new_page()
        self.page.goto(url, wait_until="domcontentloaded")

    def text(self) -> str | None:
        """The page's visible text after a reload (None without a browser)."""
        if self.page is None:
            return None
        self.page.reload(wait_until="domcontentloaded")
        self.page.get_by_role("heading", name="srllm · safety audit").wait_for(timeout=60_000)
        self.page.wait_for_timeout(1000)  # let the script run finish rendering
        return self.page.inner_text("body")

    def close(self) -> None:
        if self.page is not None:
            self._browser.close()
            self._pw.stop()


SAMPLES = 4  # four sampled passes over 40 prompts: several commits for readers to see
TOTAL = 40 * SAMPLES


@pytest.mark.slow
def test_dashboard_reads_while_a_cli_audit_writes_the_same_file(tmp_path):
    db = tmp_path / "live.duckdb"
    log = tmp_path / "server.log"
    server, url = start_streamlit(db, log)
    browser = None
    audit = None
    try:
        browser = _Browser(url)
        audit = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "srllm",
                "audit",
                "--prompts",
                str(CSV),
                "--models",
                "base",
                "--db",
                str(db),
                "--max-new-tokens",
                "8",
                "--samples",
                str(SAMPLES),
                "--temperature",
                "0.7",
                "--batch-size",
                "4",
                "--run-name",
                "cli",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen: list[int] = []
        app_in_progress = browser_in_progress = False
        deadline = time.time() + 600
        while audit.poll() is None and time.time() < deadline:
            assert _health(url) == "ok"
            if db.exists():
                n = Store(db).summary()["generations"]
                assert not seen or n >= seen[-1], f"count went down: {seen[-1]} -> {n}"
                seen.append(n)
            at = _app(db).run()
            assert not at.exception, at.exception
            assert not at.error, [e.value for e in at.error]
            assert not at.warning, [w.value for w in at.warning]
            shown = " ".join(i.value for i in at.info)
            app_in_progress |= "cli is in progress" in shown
            text = browser.text()
            if text is not None:
                assert not any(bad in text for bad in PROBLEMS), text
                browser_in_progress |= "cli is in progress" in text
        out, err = audit.communicate(timeout=30)
        assert audit.returncode == 0, err
        assert "Traceback" not in err and "busy" not in err
        assert f"{TOTAL} new generations, 0 already stored, 0 errors" in err

        # The readers overlapped the writes and saw the run grow.
        assert any(0 < n < TOTAL for n in seen), seen
        assert app_in_progress, "the overview never said that the run was in progress"
        if browser.page is not None:
            assert browser_in_progress, "the browser never showed the run in progress"

        # Exactly one row per (run, model, prompt, sample), and the run is finished.
        store = Store(db)
        gens = store.generations()
        assert gens.height == TOTAL
        assert gens.select("run_id", "model", "prompt_id", "sample_idx").n_unique() == TOTAL
        assert sorted(gens["sample_idx"].unique().to_list()) == list(range(SAMPLES))
        assert gens["prompt_id"].n_unique() == 40
        assert gens["error"].null_count() == TOTAL
        runs = store.list_runs()
        assert runs.height == 1 and runs["status"][0] == "finished"
        assert store.summary()["generations"] == TOTAL

        # Once its cache refreshes, the overview shows the final figures and no run in progress.
        finished_shown = False
        until = time.time() + 30
        while time.time() < until and not finished_shown:
            at = _app(db).run()
            assert not at.exception and not at.error
            metrics = {m.label: m.value for m in at.metric}
            finished_shown = metrics.get("Generations") == f"{TOTAL:,}" and not any(
                "in progress" in i.value for i in at.info
            )
            if not finished_shown:
                time.sleep(1)
        assert finished_shown
        if browser.page is not None:
            text = browser.text()
            assert not any(bad in text for bad in PROBLEMS), text
    finally:
        if audit is not None and audit.poll() is None:
            audit.kill()
        if browser is not None:
            browser.close()
        stop_process(server)
    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log[-3000:]


# -- two dashboard sessions launch audits at the same moment ------------------------------
def _launch(at: AppTest, prompts: Path, run_name: str) -> None:
    at.switch_page("pages/audit_runs.py").run()
    assert not at.exception, at.exception
    box = next(w for w in at.text_input if w.label.startswith("…or a prompt file"))
    box.set_value(str(prompts))
    next(w for w in at.number_input if w.label == "Max new tokens").set_value(8)
    next(w for w in at.text_input if w.label.startswith("Run name")).set_value(run_name)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any(s.value.startswith("Launched: 12 prompts") for s in at.success)


@pytest.mark.slow
def test_two_sessions_launch_audits_at_once(tmp_path):
    db = tmp_path / "two.duckdb"  # new: both runs also create the store at the same moment
    prompts = tmp_path / "p12.csv"
    pl.read_csv(CSV).head(12).write_csv(prompts)
    first, second = _app(db).run(), _app(db).run()
    _launch(first, prompts, "session-1")
    _launch(second, prompts, "session-2")

    done: dict[str, str] = {}
    deadline = time.time() + 600
    while len(done) < 2 and time.time() < deadline:
        time.sleep(2)
        for at in (first, second):
            at.run()
            assert not at.exception, at.exception
            assert not at.error, [e.value for e in at.error]
            for s in at.success:
                for name in ("session-1", "session-2"):
                    if s.value.startswith(f"{name}: finished"):
                        done[name] = s.value
    assert set(done) == {"session-1", "session-2"}, done

    store = Store(db)
    runs = store.list_runs()
    assert sorted(runs["run_name"]) == ["session-1", "session-2"]
    assert set(runs["status"]) == {"finished"}
    gens = store.generations()
    assert gens.height == 24
    assert gens.select("run_id", "model", "prompt_id", "sample_idx").n_unique() == 24
    assert gens["error"].null_count() == 24
    for run_id in runs["run_id"]:
        part = gens.filter(pl.col("run_id") == run_id)
        assert part.height == 12 and part["prompt_id"].n_unique() == 12
