"""The AI-assisted work page in a real browser: `streamlit run` on a published build of the hand-made marts
with the drilldown's rows (tests/fixtures/marts.py AI_SIGNALS, ADOPTION; tests/fixtures/drilldown.py adds
PR acme/api#106, merged 03-04 by alice, not AI-assisted), loaded in headless Chromium. Values by hand: merged
PRs of the window 101 102 103 106 201 301, AI-assisted 102 and 201 -> 2 of 6 = 33.3%."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.browser import artifacts_dir, chromium_page, chromium_path, published_dashboard
from tests.fixtures.drilldown import build_drilldown_warehouse
from tests.fixtures.marts import PUBLISHED_AT

pytestmark = pytest.mark.browser


@pytest.mark.skipif(chromium_path() is None, reason="headless Chromium is not installed at /usr/bin/chromium")
def test_ai_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    build_drilldown_warehouse(live)
    with published_dashboard(live, tmp_path / "streamlit.log", PUBLISHED_AT) as url, \
            chromium_page({"width": 1400, "height": 2000}) as page:
        page.goto(f"{url}/ai?start=2026-03-02&end=2026-03-15", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"], .vega-embed', timeout=60_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(artifacts_dir() / "ai.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert "AI-assisted work" in text
        assert "AI-assisted PR share (2 of 6 merged PRs)" in text and "33.3%" in text
        assert "coauthor trailer 1" in text and "label 1" in text
        assert "Rows behind this number" in text  # the drilldown of the share's PRs
        assert "GitHub Copilot adoption" in text
        # The comparison table is a canvas grid: its values are checked through the layer and the API.
        assert page.locator('[data-testid="stDataFrame"]').count() == 1
        page.get_by_text("Rows behind this number").click()
        page.wait_for_url("**/drilldown?**", timeout=30_000)
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
        assert "metric=ai_assisted_pr_share" in page.url and "start=2026-03-02" in page.url
        drilled = page.locator('[data-testid="stMain"]').inner_text()
        assert "AI-assisted PRs (ai_signal set)" in drilled and "6 pull requests" in drilled
        assert page.locator('[data-testid="stException"]').count() == 0
    assert (artifacts_dir() / "ai.png").stat().st_size > 10_000
