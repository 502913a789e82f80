"""Parity: for the same window, the dashboard's tiles, the Sprint Health blob's values and the metrics
layer's tiles are equal, and the API's tiles (`GET /metrics/tiles`) are the layer's.

The warehouse is tests/fixtures/insights.py's. The window is platform's ISO week 2026-W13
(2026-03-23 .. 2026-03-29, i.e. [03-23 00:00, 03-30 00:00)), in which PRs c and d were merged and
deployed (d failed). By hand (docs/metrics.md):
- cycle time c 30, d 50 -> p50 40.0, p90 30 + 0.9 * 20 = 48.0 (2 merged PRs; the bot's PR was merged 03-20);
- time to first review c 6, d 10 -> p50 8.0; lead time c 40, d 60 -> p50 50.0;
- deployments 2 in 7 days -> 2/7 = 0.2857/day; change failure rate 1 / 2 = 0.5.
And the planning basis: a sprint's carryover on the card and on the dashboard's sprint table is the same
figure on the same basis (Sprint 4: 25.0 by points; Sprint 1, not estimated: 10.0 by issue count).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from emd.metrics import tiles
from emd.metrics.catalogue import CATALOGUE, UNIT_WORDS, format_value
from emd.metrics.filters import Filters
from emd.metrics.source import Source, open_source
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from orchestration.defs.insights.blob import TeamMetrics, build_blob, org_horizon, team_blobs, week_period
from orchestration.defs.insights.cache import write_cards
from orchestration.defs.insights.card import CardWriter
from tests.fixtures.app import metric, run_app
from tests.fixtures.insights import NOW, build_marts, with_teams

WEEK = Filters(team="platform", start=date(2026, 3, 23), end=date(2026, 3, 29))
HAND = {"cycle_time_p50_hours": 40.0, "cycle_time_p90_hours": 48.0, "time_to_first_review_p50_hours": 8.0,
        "lead_time_p50_hours": 50.0, "deployment_frequency_per_day": 2 / 7, "change_failure_rate": 0.5}


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    live = build_marts(tmp_path / "warehouse.duckdb")
    url = f"duckdb:///{live}"
    write_cards(Warehouse(parse_database_url(url)), ["platform", "data"], CardWriter(None), NOW)
    publish_build(Warehouse(parse_database_url(url)), now=datetime(2026, 4, 1))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EMD_CONFIG", str(tmp_path / "no-config.yaml"))
    return live


def _week_blob(teams: dict[str, TeamMetrics], source: Source) -> dict:
    monday = datetime(2026, 3, 23)
    return build_blob(teams["platform"], week_period("platform", monday), [], org_horizon(teams, NOW))


def test_dashboard_blob_and_layer_agree_on_a_window(published: Path) -> None:
    source = open_source()
    assert isinstance(source, Source)
    layer = {t.key: t for t in tiles.tiles(source, WEEK)}
    blob = with_teams(published, _week_blob)["metrics"]
    at = run_app({"team": "platform", "start": "2026-03-23", "end": "2026-03-29"})
    for key, by_hand in HAND.items():
        m = CATALOGUE[key]
        value = layer[key].value
        assert value == pytest.approx(by_hand), key
        assert blob[key]["value"] == round(by_hand, m.digits), key  # the blob rounds for the reader
        assert (layer[key].sample_size, blob[key]["sample_size"]) == (2, 2), key
        shown = metric(at, f"{m.label} ({UNIT_WORDS[m.unit]})")
        assert shown.value.split(" · ")[0] == format_value(m, by_hand), key  # the DORA band follows " · "
    # The new catalogue metrics reach the card's blob with the layer's value and sample.
    for key in ("hotfix_rate", "review_depth_avg"):
        value = layer[key].value
        assert blob[key]["value"] == (None if value is None else round(value, CATALOGUE[key].digits)), key
        assert blob[key]["sample_size"] == layer[key].sample_size, key


def test_card_and_dashboard_report_carryover_on_the_same_basis(published: Path) -> None:
    blobs = with_teams(published, lambda teams, _: {
        b.period.period_id: b.blob for b in team_blobs(teams["platform"], True, org_horizon(teams, NOW))})
    at = run_app({"team": "platform", "start": "2026-02-02", "end": "2026-03-30"}, page="app_pages/planning.py")
    table = at.dataframe[0].value.set_index("sprint_name")
    # Sprint 4 (estimated): 25.0 by points on both; Sprint 1 (no committed points): 10.0 by issue count on both.
    assert (blobs["104"]["planning_basis"], blobs["104"]["metrics"]["carryover_pct"]["value"]) == ("story points", 25.0)
    assert (table.loc["Sprint 4", "basis"], table.loc["Sprint 4", "carryover_pct"]) == ("points", 25.0)
    assert (blobs["101"]["planning_basis"], blobs["101"]["metrics"]["carryover_pct"]["value"]) == ("issue counts", 10.0)
    assert (table.loc["Sprint 1", "basis"], table.loc["Sprint 1", "carryover_pct"]) == ("issues", 10.0)


def test_api_tiles_are_the_layers_and_the_dashboards(published: Path) -> None:
    """The API's side of parity: `GET /metrics/tiles` for the same week answers the layer's tiles, every key,
    and the hand-computed values the dashboard shows; the API's card for Sprint 4 carries the blob's figure."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    source = open_source()
    assert isinstance(source, Source)
    layer = {t.key: t for t in tiles.tiles(source, WEEK)}
    at = run_app({"team": "platform", "start": "2026-03-23", "end": "2026-03-29"})
    with TestClient(create_app()) as client:
        answer = client.get("/metrics/tiles", params={"team": "platform", "from": "2026-03-23", "to": "2026-03-29"})
        card = client.get("/insights/sprint-health", params={"team": "platform", "sprint": "104"})
    assert answer.status_code == 200, answer.text
    api = {t["key"]: t for t in answer.json()["tiles"]}
    assert set(api) == set(layer)
    for key, tile in layer.items():
        assert (api[key]["value"], api[key]["sample_size"], api[key]["previous"], api[key]["change"],
                api[key]["low_sample"]) == (tile.value, tile.sample_size, tile.previous, tile.change,
                                            tile.low_sample), key
    for key, by_hand in HAND.items():
        m = CATALOGUE[key]
        assert api[key]["value"] == pytest.approx(by_hand), key
        assert metric(at, f"{m.label} ({UNIT_WORDS[m.unit]})").value.split(" · ")[0] == format_value(
            m, api[key]["value"]), key
    # Sprint 4's card (estimated): carryover 25.0 by points, as the planning table shows it.
    assert card.status_code == 200, card.text
    assert card.json()["metrics"]["metrics"]["carryover_pct"]["value"] == 25.0
