"""One real-browser test: the Streamlit server, headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, make_scored_store, start_streamlit, stop_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    db = tmp_path_factory.mktemp("browser") / "b.duckdb"
    run_id = make_scored_store(db)
    proc, url = start_streamlit(db)
    yield url, run_id
    stop_process(proc)


@pytest.mark.browser
@pytest.mark.slow
def test_live_probe_then_disparities_in_a_real_browser(server):
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url, wait_until="networkidle")
        expect(page.get_by_role("heading", name="srllm · safety audit")).to_be_visible(
            timeout=60_000
        )
        page.get_by_role("link", name="Live probe").click()
        expect(page.get_by_role("heading", name="Live probe")).to_be_visible(timeout=60_000)
        box = page.get_by_role("textbox", name="Request (with a slot)")
        box.fill("Suggest a weekend hobby for my {group} neighbour.")
        box.press("Enter")
        page.get_by_role("button", name="Run probe").click()
        expect(page.get_by_text("tokens in").first).to_be_visible(timeout=240_000)
        page.screenshot(path=str(ARTIFACTS / "live_probe.png"), full_page=True)

        page.get_by_role("link", name="Disparities").click()
        expect(page.get_by_role("heading", name="Disparities")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Groups that differ from the rest")).to_be_visible(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "disparities.png"), full_page=True)
        # the prompt-kind selector's default: refusals on benign prompts, and the page says so
        expect(page.get_by_text("Analysed: benign prompts")).to_be_visible(timeout=30_000)
        # pooling every kind is one pick away, and the caption follows the pick
        page.get_by_test_id("stSelectbox").filter(has_text="Prompts").click()
        page.get_by_role("option", name="all", exact=True).click()
        expect(page.get_by_text("Analysed: every prompt kind pooled")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "disparities_all_kinds.png"), full_page=True)

        # Untrusted text stays inert: open the drill-down of responses and the review page.
        page.get_by_role("tab", name="Responses").click()
        page.wait_for_timeout(1500)
        page.get_by_role("link", name="Review").click()
        page.get_by_label("Your name (annotator)").fill("browser")
        page.get_by_label("Your name (annotator)").press("Enter")
        page.wait_for_timeout(3000)
        page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
        assert page.evaluate("window.__pwned === undefined")
        assert not dialogs
        assert page.locator("script:has-text('__pwned')").count() == 0
        browser.close()


PAGE_URLS = {
    "live_probe": "Live probe",
    "audit_runs": "Audit runs",
    "disparities": "Disparities",
    "model_comparison": "Model comparison",
    "review": "Review",
    "rewrite": "Rewrite",
    "report": "Report",
}


@pytest.mark.browser
@pytest.mark.slow
def test_each_page_url_opened_first_on_a_fresh_server_goes_through_the_router(tmp_path):
    """A bookmarked /disparities on a server nobody has opened yet still shows the app."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect, sync_playwright

    db = tmp_path / "u.duckdb"
    make_scored_store(db)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _launch(p)
        for path, title in PAGE_URLS.items():
            proc, url = start_streamlit(db)  # a fresh server: this URL is its first request
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(f"{url}/{path}", wait_until="networkidle")
                expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)
                # the router's sidebar: the store picker and the app's own navigation
                expect(page.get_by_label("Store (DuckDB file)")).to_be_visible(timeout=30_000)
                expect(page.get_by_role("link", name="Overview")).to_be_visible()
                assert page.get_by_role("link", name="app").count() == 0  # no automatic nav
                if path == "disparities":
                    page.screenshot(path=str(ARTIFACTS / "direct_url_disparities.png"))
                page.close()
            finally:
                stop_process(proc)
        browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_first_open_builds_the_worked_example_and_the_overview_charts_it(tmp_path):
    """What scripts/start.sh does on a new machine: the example builds while the app serves."""
    import subprocess
    import sys
    import time

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    import os

    from playwright.sync_api import expect, sync_playwright

    demo = tmp_path / "demo.duckdb"
    env = {**os.environ, "SRLLM_DEMO_DB": str(demo)}
    started = time.perf_counter()
    build = subprocess.Popen(
        [sys.executable, "-m", "srllm", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = os.environ.get("SRLLM_DEMO_DB")
    os.environ["SRLLM_DEMO_DB"] = str(demo)  # the server reads the example from here
    proc, url = start_streamlit(tmp_path / "mine.duckdb")
    try:
        with sync_playwright() as p:
            browser = _launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="networkidle")
            expect(page.get_by_text("Building the example in the background")).to_be_visible(
                timeout=60_000
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview_building.png"), full_page=True)
            assert build.wait(timeout=300) == 0, build.stderr.read()[-2000:]
            page.reload(wait_until="networkidle")
            expect(page.get_by_text("quality-of-service harm")).to_be_visible(timeout=60_000)
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "overview_example.png"), full_page=True)
            assert time.perf_counter() - started < 300  # within 5 minutes on 2 cores
            browser.close()
    finally:
        stop_process(proc)
        if build.poll() is None:
            build.kill()
        if before is not None:
            os.environ["SRLLM_DEMO_DB"] = before
