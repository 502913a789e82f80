"""One real browser: `streamlit run` on the fixture warehouse, the overview loaded in headless Chromium.

The screenshot is kept as a test artifact in test-artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from tests.fixtures.marts import PUBLISHED_AT
from tests.fixtures.marts import build_duckdb_warehouse as build_fixture_warehouse

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit did not become healthy at {url} in {seconds}s")


@pytest.mark.skipif(not (Path(CHROMIUM).exists() or shutil.which("chromium")),
                    reason="headless Chromium is not installed at /usr/bin/chromium "
                           "(apt-get install -y chromium, as .ci/run does)")
def test_overview_renders_in_headless_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    live = tmp_path / "warehouse.duckdb"
    build_fixture_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"duckdb:///{live}", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = (tmp_path / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, server)
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                                 else shutil.which("chromium"), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1800})
                page.goto(f"{url}/?start=2026-03-02&end=2026-03-15", wait_until="domcontentloaded")
                page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
                # Let the run finish: every tile drawn, no spinner left.
                page.wait_for_function(
                    "document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 15", timeout=60_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
                assert page.locator('[data-testid="stException"]').count() == 0
                text = page.locator('[data-testid="stMain"]').inner_text()
                # Values computed by hand in test_app_pages.py.
                assert "0.57/day · Elite" in text
                assert "37.5%" in text
                assert "32.5 h" in text
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert (artifacts / "overview.png").stat().st_size > 10_000
