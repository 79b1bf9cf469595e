"""One real-browser test: the Streamlit server, headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, make_scored_store, start_streamlit, stop_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"


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
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
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
