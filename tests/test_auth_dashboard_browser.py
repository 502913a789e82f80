"""Sign-in on the dashboard as it runs: `emd dashboard` with EMD_OIDC_ISSUER pointing at the real OpenID provider
(tests/fixtures/oidc.py); headless Chromium clicks "Sign in", signs in on the provider's own login page, and
sees exactly the signed-in user's teams. Screenshots in test-artifacts/ (gitignored).

Hand-computed from tests/fixtures/marts.py DEPLOYMENTS over 2026-03-02..2026-03-15 (14 days): platform deployed
5 times (5/14 = 0.357 -> "0.36/day"), every team 8 times (8/14 = 0.571 -> "0.57/day").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from emd.settings import parse_database_url
from emd.slack import dashboard_link
from emd.snapshot import publish_build
from emd.sprint_health import SprintHealthRow
from emd.warehouse import Warehouse
from tests.fixtures.browser import CHROMIUM_ARGS, ROOT, chromium_path, dashboard
from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse
from tests.fixtures.oidc import Provider

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    chromium_path() is None,
    reason="headless Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium, as .ci/run does)")]
RANGE = "start=2026-03-02&end=2026-03-15"
ACCESS = {"org_wide": ["eng-leadership"], "admins": ["emd-admins"],
          "teams": {"eng-platform": ["platform"], "eng-web": ["web"]}}


@pytest.fixture(scope="module")
def signed_in_dashboard(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`emd dashboard` on the port the provider's client redirects to, with sign-in on."""
    folder = tmp_path_factory.mktemp("signed-in-dashboard")
    live = folder / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    url = f"http://127.0.0.1:{oidc_provider.dashboard_port}"
    config = {"org": "acme", "github": {"repos": ["acme/api", "acme/web", "acme/data-pipeline"]},
              "teams": {"platform": {"repos": ["acme/api"]}, "web": {"repos": ["acme/web"]},
                        "data": {"repos": ["acme/data-pipeline"]}},
              "dashboard": {"url": url}, "access": ACCESS}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cleared = {k: "" for k in os.environ if k.startswith("EMD_")}  # empty is unset for the product
    with dashboard(f"duckdb:///{live}", folder / "dashboard.log", port=oidc_provider.dashboard_port,
                   emd_dashboard=True, extra_env={**cleared, "EMD_CONFIG": str(folder / "config.yaml"),
                                                  **oidc_provider.env()}) as served:
        yield served


def _settled(page: Any) -> None:
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(700)


def _sign_in(page: Any, url: str, login: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.wait_for_selector('input[name="login"]', timeout=30_000)  # the provider's own login page
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any")
    page.click('button[type="submit"]')
    page.wait_for_url(f"{url}/**", timeout=30_000)
    page.get_by_text("Signed in as").first.wait_for(timeout=60_000)


def _slack_links_obey_the_scope(page: Any, url: str, artifacts: Any) -> None:
    """The page a Sprint Health post's "Open in the dashboard" lands on (emd/slack.py's dashboard_link): a
    platform user's own card opens its sprint; web's card (sprint 7) is an access message; web's sprint under
    the user's own team is as if it did not exist. No number either way."""
    platform_card = SprintHealthRow(
        team="platform", period_kind="sprint", period_id="2", period_name="API Sprint 2",
        period_start=datetime(2026, 3, 2, 9, tzinfo=UTC), period_end=datetime(2026, 3, 13, 17, tzinfo=UTC),
        metrics_json="{}", metrics_hash="h", prompt_version="v1", model=None, source="model", card_json="{}",
        card_text="", tokens_used=0, slack_channel=None, slack_ts=None, slack_message_json=None,
        generated_at=datetime(2026, 3, 13, 18, tzinfo=UTC), posted_at=None, fallback_reason=None)
    web_card = replace(platform_card, team="web", period_id="7", period_name="WEB Sprint 7",
                       period_end=datetime(2026, 3, 15, 12, tzinfo=UTC))

    page.goto(dashboard_link(url, platform_card), wait_until="domcontentloaded")
    page.get_by_text("Sprint: API Sprint 2").wait_for(timeout=60_000)
    _settled(page)
    page.screenshot(path=str(artifacts / "signed-in-alice-slack-link.png"), full_page=True)

    page.goto(dashboard_link(url, web_card), wait_until="domcontentloaded")
    page.get_by_text("You do not have access to this team").wait_for(timeout=60_000)
    _settled(page)
    assert "WEB Sprint 7" not in page.locator('[data-testid="stMain"]').inner_text()

    page.goto(dashboard_link(url, replace(web_card, team="platform")), wait_until="domcontentloaded")
    page.get_by_text("No sprint with this id among the teams you can see").wait_for(timeout=60_000)
    _settled(page)
    assert "WEB Sprint 7" not in page.locator('[data-testid="stMain"]').inner_text()
    assert page.locator('[data-testid="stMetric"]').count() == 0


def _team_options(page: Any) -> list[str]:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Team").click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip() for o in options]


@pytest.mark.parametrize(("login", "name", "teams", "per_day"), [
    ("alice", "Alice Platform", ["All teams", "platform"], "0.36/day"),
    ("lead", "Lee Leadership", ["All teams", "data", "platform", "web"], "0.57/day"),
])
def test_a_signed_in_user_sees_exactly_their_teams(signed_in_dashboard: str, login: str, name: str,
                                                   teams: list[str], per_day: str) -> None:
    from playwright.sync_api import sync_playwright

    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            page.goto(signed_in_dashboard, wait_until="domcontentloaded")
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert page.locator('[data-testid="stMetric"]').count() == 0  # nothing before sign-in
            _sign_in(page, signed_in_dashboard, login)
            page.goto(f"{signed_in_dashboard}/?{RANGE}", wait_until="domcontentloaded")
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 10", timeout=60_000)
            _settled(page)
            assert f"Signed in as {name}" in page.locator('[data-testid="stSidebar"]').inner_text()
            assert page.locator('[data-testid="stException"]').count() == 0
            assert per_day in page.locator('[data-testid="stMain"]').inner_text()
            assert _team_options(page) == teams
            page.screenshot(path=str(artifacts / f"signed-in-{login}.png"), full_page=True)

            if login == "alice":  # a link to another team: an access message and no number
                page.goto(f"{signed_in_dashboard}/?team=web&{RANGE}", wait_until="domcontentloaded")
                page.get_by_text("You do not have access to this team").wait_for(timeout=60_000)
                _settled(page)
                assert page.locator('[data-testid="stMetric"]').count() == 0
                page.screenshot(path=str(artifacts / "signed-in-alice-other-team.png"), full_page=True)
                _slack_links_obey_the_scope(page, signed_in_dashboard, artifacts)

            # Signing out clears the dashboard's cookie (then Streamlit sends the browser to the provider's
            # end-session page): the dashboard asks to sign in again.
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
            page.wait_for_url(lambda u: "/session/end" in u or "oauth2callback" not in u, timeout=30_000)
            page.wait_for_timeout(1000)
            page.goto(f"{signed_in_dashboard}/?{RANGE}", wait_until="domcontentloaded")
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert page.locator('[data-testid="stMetric"]').count() == 0
        finally:
            browser.close()
