"""The working-agreements page in a real browser: `streamlit run` on a published build of the hand-made marts
(tests/fixtures/agreements.py, values computed by hand there), loaded in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.agreements import build_duckdb_agreements
from tests.fixtures.browser import artifacts_dir, chromium_page, chromium_path, published_dashboard
from tests.fixtures.marts import PUBLISHED_AT

pytestmark = pytest.mark.browser


@pytest.mark.skipif(chromium_path() is None, reason="headless Chromium is not installed at /usr/bin/chromium")
def test_agreements_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_agreements(live)
    with published_dashboard(live, tmp_path / "streamlit.log", PUBLISHED_AT) as url, \
            chromium_page({"width": 1400, "height": 1800}) as page:
        page.goto(f"{url}/agreements?team=platform&start=2026-03-02&end=2026-03-15", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 2",
                               timeout=60_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"], .vega-embed', timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir() / "agreements.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert "Working agreements" in text
        # 2 of 4 PRs held (50 %) vs 0 of 1 the two weeks before (+50 pts); WIP (proposed) 294 / 336
        assert "First review within 8 working hours" in text and "50.0%" in text and "+50.0 pts" in text
        assert "held for 2 of 4 PRs (low sample)" in text
        assert "WIP at most 4 issues (proposed)" in text and "87.5%" in text
        assert "held for 294 of 336 hourly checks" in text
        # the filters stay in the URL, as on the other pages
        assert "team=platform" in page.url and "start=2026-03-02" in page.url
    assert (artifacts_dir() / "agreements.png").stat().st_size > 10_000
