"""The metrics API (api/) through FastAPI's TestClient on the hand-made published warehouse of
tests/fixtures/marts.py. Every expected value is computed by hand below from those rows and
docs/metrics.md; the arithmetic is in the comments.

Current window 2026-03-02 .. 2026-03-15 (14 days); previous 2026-02-16 .. 2026-03-01 (14 days).
The ingested calendar runs 2026-02-01 .. 2026-03-15.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from tests.fixtures.marts import PLATFORM_CARD, PUBLISHED_AT, build_duckdb_warehouse

WINDOW = {"from": "2026-03-02", "to": "2026-03-15"}

# The issue's list: the API must serve at least these keys.
REQUIRED_KEYS = {
    "deployment_frequency_per_day", "lead_time_p50_hours", "lead_time_p90_hours", "change_failure_rate",
    "failed_deployment_recovery_p50_hours", "deployment_rework_rate", "cycle_time_p50_hours",
    "cycle_time_p90_hours", "time_to_first_review_p50_hours", "pr_rework_rate", "planned_vs_done_pct",
    "scope_change_pct", "carryover_pct", "blocked_issues", "blocked_age_p50_days",
}


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture warehouse, published; DATABASE_URL points at it. Returns the live file."""
    path = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(path)
    publish_build(Warehouse(parse_database_url(f"duckdb:///{path}")), now=PUBLISHED_AT)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{path}")
    monkeypatch.setenv("EMD_CONFIG", str(tmp_path / "no-config.yaml"))
    for name in ("EMD_API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def client(live: Path) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def tiles_of(answer) -> dict[str, dict]:
    assert answer.status_code == 200, answer.text
    return {t["key"]: t for t in answer.json()["tiles"]}


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


def test_tiles_equal_hand_computed_values(client: TestClient) -> None:
    answer = client.get("/metrics/tiles", params=WINDOW)
    body = answer.json()
    assert body["filters"] == {"org": None, "team": None, "repo": None, "from": "2026-03-02", "to": "2026-03-15",
                               "days": 14, "granularity": None, "scope": ["data", "platform", "web"],
                               "tenant": None}
    tiles = tiles_of(answer)
    assert REQUIRED_KEYS <= set(tiles)

    # Deployments d1 d2 d3 dbot d4 d5 d6 d7 = 8 in 14 days; previous p1 p2 p3 = 3 in 14 days.
    freq = tiles["deployment_frequency_per_day"]
    assert (freq["value"], freq["sample_size"], freq["previous"]) == (approx(8 / 14), 8, approx(3 / 14))
    assert freq["change"] == approx(5 / 14)
    assert (freq["unit"], freq["low_sample"], freq["previous_ingested"]) == ("/day", False, True)
    # Lead time of the PRs deployed in the window (bots too): 2 12 25 40 50 110 -> p50 (25 + 40) / 2;
    # p90 at rank 0.9 * 5 = 4.5: 50 + 0.5 * (110 - 50) = 80. Previous 8 16 60: p50 16, p90 at 1.8:
    # 16 + 0.8 * 44 = 51.2.
    assert (tiles["lead_time_p50_hours"]["value"], tiles["lead_time_p50_hours"]["sample_size"]) == (32.5, 6)
    assert tiles["lead_time_p50_hours"]["previous"] == 16.0
    assert tiles["lead_time_p50_hours"]["change"] == approx(16.5)
    assert tiles["lead_time_p90_hours"]["value"] == approx(80.0)
    assert tiles["lead_time_p90_hours"]["previous"] == approx(51.2)
    # Change failure rate, a fraction: d2 d4 d6 failed of 8; previous p1 of 3.
    cfr = tiles["change_failure_rate"]
    assert (cfr["value"], cfr["previous"], cfr["unit"]) == (approx(3 / 8), approx(1 / 3), "rate")
    assert cfr["change"] == approx(3 / 8 - 1 / 3)
    # Recovery of the recovered failures: d2 6 h, d4 24 h -> p50 15 from 2 (fewer than 5: low sample);
    # previous p1 2 h.
    recovery = tiles["failed_deployment_recovery_p50_hours"]
    assert (recovery["value"], recovery["sample_size"], recovery["low_sample"]) == (15.0, 2, True)
    assert (recovery["previous"], recovery["change"]) == (2.0, 13.0)
    # Rework: d4 of 8; previous 0 of 3.
    assert (tiles["deployment_rework_rate"]["value"], tiles["deployment_rework_rate"]["previous"]) == (0.125, 0.0)
    # Cycle time of the human PRs merged in the window (bot #105 out): 10 20 30 40 100 -> p50 30;
    # p90 at 3.6: 40 + 0.6 * 60 = 76. Previous 6 14 50: p50 14, p90 at 1.8: 14 + 0.8 * 36 = 42.8.
    assert (tiles["cycle_time_p50_hours"]["value"], tiles["cycle_time_p50_hours"]["sample_size"]) == (30.0, 5)
    assert (tiles["cycle_time_p50_hours"]["previous"], tiles["cycle_time_p50_hours"]["change"]) == (14.0, 16.0)
    assert tiles["cycle_time_p90_hours"]["value"] == approx(76.0)
    assert tiles["cycle_time_p90_hours"]["previous"] == approx(42.8)
    # First review of the reviewed merged human PRs: 1 3 5 8 -> 4 from 4; previous 2 4 10 -> 4: change 0.
    ttfr = tiles["time_to_first_review_p50_hours"]
    assert (ttfr["value"], ttfr["sample_size"], ttfr["previous"], ttfr["change"]) == (4.0, 4, 4.0, 0.0)
    # Closed or merged human PRs 101 102 103 201 301 202, reopened 102 and 202: 2 / 6; previous 90 190 91: 0 / 3.
    assert (tiles["pr_rework_rate"]["value"], tiles["pr_rework_rate"]["sample_size"]) == (approx(2 / 6), 6)
    assert tiles["pr_rework_rate"]["previous"] == 0.0
    # Sprints completed in the window, by points: API Sprint 2, WEB Sprint 7. Planned vs done (24 + 8) /
    # (30 + 10) = 80%; previous API Sprint 1: 15 / 20 = 75%. Scope (6 + 0 + 0 + 4) / 40 = 25%; previous
    # (5 + 3) / 20 = 40%. Carryover / (completed + carryover): (9 + 2) / ((27 + 8) + (9 + 2)) = 11 / 46;
    # previous 6 / (18 + 6) = 25%.
    assert (tiles["planned_vs_done_pct"]["value"], tiles["planned_vs_done_pct"]["sample_size"]) == (80.0, 2)
    assert (tiles["planned_vs_done_pct"]["previous"], tiles["planned_vs_done_pct"]["change"]) == (75.0, 5.0)
    assert (tiles["scope_change_pct"]["value"], tiles["scope_change_pct"]["previous"]) == (25.0, 40.0)
    assert tiles["carryover_pct"]["value"] == approx(1100 / 46)
    assert tiles["carryover_pct"]["previous"] == 25.0
    # Blocked at the end of 03-15 (the org row): 3 issues, p50 3.5 days; at the end of 03-01: 1, 3.0 days.
    assert (tiles["blocked_issues"]["value"], tiles["blocked_issues"]["previous"]) == (3, 1)
    assert tiles["blocked_issues"]["change"] == 2
    assert (tiles["blocked_age_p50_days"]["value"], tiles["blocked_age_p50_days"]["change"]) == (3.5, 0.5)


def test_labels_and_units_come_from_the_catalogue(client: TestClient) -> None:
    from emd.metrics.catalogue import CATALOGUE

    for key, tile in tiles_of(client.get("/metrics/tiles", params=WINDOW)).items():
        assert (tile["label"], tile["unit"]) == (CATALOGUE[key].label, CATALOGUE[key].unit)


def test_team_and_repo_filters_narrow_the_tiles(client: TestClient) -> None:
    tiles = tiles_of(client.get("/metrics/tiles", params={**WINDOW, "team": "platform"}))
    # platform: d1 d2 d3 dbot d4 = 5 in 14 days, failures d2 d4 of 5; previous p1 p3 = 2.
    assert tiles["deployment_frequency_per_day"]["value"] == approx(5 / 14)
    assert tiles["deployment_frequency_per_day"]["previous"] == approx(2 / 14)
    assert tiles["change_failure_rate"]["value"] == approx(2 / 5)
    # Human PRs merged: 101 102 103 -> cycle p50 20.
    assert tiles["cycle_time_p50_hours"]["value"] == 20.0
    # API Sprint 2 alone: 24 / 30 = 80%, 6 / 30 = 20%, 9 / (27 + 9) = 25%.
    assert [tiles[k]["value"] for k in ("planned_vs_done_pct", "scope_change_pct", "carryover_pct")] == [
        80.0, 20.0, 25.0]
    # platform's row of 03-15: 2 blocked, p50 4.5 days; of 03-01: 3.0 days.
    assert (tiles["blocked_issues"]["value"], tiles["blocked_age_p50_days"]["value"]) == (2, 4.5)
    assert tiles["blocked_age_p50_days"]["change"] == 1.5

    web = tiles_of(client.get("/metrics/tiles", params={**WINDOW, "repo": "acme/web"}))
    # acme/web: PR 201 alone merged, 40 h, one sample.
    assert (web["cycle_time_p50_hours"]["value"], web["cycle_time_p50_hours"]["sample_size"]) == (40.0, 1)
    assert web["cycle_time_p50_hours"]["low_sample"] is True


def test_planning_basis_by_issues(client: TestClient) -> None:
    tiles = tiles_of(client.get("/metrics/tiles", params={**WINDOW, "basis": "issues"}))
    # Issues: planned vs done (8 + 4) / (10 + 5) = 80%; scope (3 + 0 + 0 + 2) / 15; carryover
    # (3 + 1) / ((9 + 4) + (3 + 1)) = 4 / 17.
    assert tiles["planned_vs_done_pct"]["value"] == 80.0
    assert tiles["scope_change_pct"]["value"] == approx(500 / 15)
    assert tiles["carryover_pct"]["value"] == approx(400 / 17)


def test_default_window_is_the_last_30_days_up_to_the_newest_data(client: TestClient) -> None:
    # The dense daily mart runs to 03-15 (the newest fact, PR 104, was opened 03-14): 02-14 .. 03-15.
    filters = client.get("/metrics/tiles").json()["filters"]
    assert (filters["from"], filters["to"], filters["days"]) == ("2026-02-14", "2026-03-15", 30)


def test_a_from_before_the_first_ingested_day_is_cut_there(client: TestClient) -> None:
    answer = client.get("/metrics/tiles", params={"from": "2026-01-20", "to": "2026-02-28"})
    assert answer.json()["filters"]["from"] == "2026-02-01"
    freq = tiles_of(answer)["deployment_frequency_per_day"]
    # 02-01 .. 02-28 (28 days): p1 p2 p3 = 3 / 28; the 28 days before were not ingested: no comparison.
    assert freq["value"] == approx(3 / 28)
    assert (freq["previous"], freq["change"], freq["previous_ingested"]) == (None, None, False)


def test_series_per_week_and_per_day(client: TestClient) -> None:
    answer = client.get("/metrics/series/cycle_time_p50_hours", params={**WINDOW, "granularity": "week"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["metric"], body["unit"], body["filters"]["granularity"]) == ("cycle_time_p50_hours", "h", "week")
    # Human PRs merged in the ISO week of Monday 03-02: 101 (10 h), 102 (20 h) -> 15 from 2;
    # week of 03-09: 103 (30), 201 (40), 301 (100) -> 40 from 3.
    assert body["points"] == [{"bucket": "2026-03-02", "value": 15.0, "sample_size": 2},
                              {"bucket": "2026-03-09", "value": 40.0, "sample_size": 3}]

    daily = client.get("/metrics/series/deployment_frequency_per_day",
                       params={"from": "2026-03-02", "to": "2026-03-04", "granularity": "day"}).json()
    # One deployment on each of 03-02 (d1), 03-03 (d2), 03-04 (d3): 1 per day.
    assert daily["points"] == [{"bucket": f"2026-03-0{d}", "value": 1.0, "sample_size": 1} for d in (2, 3, 4)]


def test_every_series_metric_of_the_catalogue_is_served(client: TestClient) -> None:
    from emd.metrics.catalogue import CATALOGUE

    for key, metric in CATALOGUE.items():
        answer = client.get(f"/metrics/series/{key}", params=WINDOW)
        assert answer.status_code == (200 if metric.series else 422), (key, answer.text)


@pytest.mark.parametrize(("path", "params", "param"), [
    ("/metrics/tiles", {"team": "nosuchteam"}, "team"),
    ("/metrics/tiles", {"repo": "acme/nosuchrepo"}, "repo"),
    ("/metrics/tiles", {"team": "web", "repo": "acme/api"}, "repo"),
    ("/metrics/tiles", {"from": "2026-03-15", "to": "2026-03-02"}, "from"),
    ("/metrics/tiles", {"from": "2026-13-01"}, "from"),
    ("/metrics/tiles", {"to": "yesterday"}, "to"),
    ("/metrics/tiles", {"to": "0"}, "to"),  # not read as a Unix timestamp
    ("/metrics/tiles", {"from": "2026-3-2"}, "from"),
    ("/metrics/series/cycle_time_p50_hours", {"granularity": "month"}, "granularity"),
    ("/metrics/series/no_such_metric", {}, "metric"),
    ("/insights/sprint-health", {"team": "nosuchteam"}, "team"),
    ("/insights/sprint-health", {}, "team"),
])
def test_bad_filters_answer_422_naming_the_parameter(client: TestClient, path: str, params: dict, param: str) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert [e["loc"][-1] for e in answer.json()["detail"]] == [param]


def test_sprint_health_card_and_its_metrics(client: TestClient) -> None:
    answer = client.get("/insights/sprint-health", params={"team": "platform"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Two cards: API Sprint 1 (ends 03-01) and API Sprint 2 (ends 03-13): the latest is Sprint 2's,
    # although Sprint 1's card was rewritten later.
    assert (body["period_id"], body["period_name"], body["period_kind"]) == ("2", "API Sprint 2", "sprint")
    assert body["card"] == PLATFORM_CARD
    assert body["metrics"] == {"sprint": "API Sprint 2", "committed_points": 30}
    assert body["slack"] == {"channel": "C123", "ts": "1710000000.000100", "posted_at": "2026-03-13T18:00:00Z"}

    by_id = client.get("/insights/sprint-health", params={"team": "platform", "sprint": "1"}).json()
    by_name = client.get("/insights/sprint-health", params={"team": "platform", "sprint": "API Sprint 1"}).json()
    assert by_id["period_name"] == by_name["period_name"] == "API Sprint 1"

    missing = client.get("/insights/sprint-health", params={"team": "platform", "sprint": "99"})
    assert missing.status_code == 404 and "1 (API Sprint 1)" in missing.json()["detail"]
    # data has no board and no card yet.
    assert client.get("/insights/sprint-health", params={"team": "data"}).status_code == 404


def test_healthz_names_the_build_and_its_age(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["warehouse"] == "duckdb"
    assert body["published_at"] == "2026-03-16T00:00:00Z"
    assert body["build_id"].startswith("20260316T000000")
    assert body["age_seconds"] > 0


def test_empty_warehouse_answers_503_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{tmp_path / 'nothing.duckdb'}")
    with TestClient(create_app(), raise_server_exceptions=False) as empty:
        for path in ("/metrics/tiles", "/metrics/series/cycle_time_p50_hours", "/healthz",
                     "/insights/sprint-health?team=platform"):
            answer = empty.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert "No published build" in answer.json()["detail"]["reason"]
            assert "make demo" in answer.json()["detail"]["commands"]


def test_openapi_documents_every_route_and_the_metric_enum(client: TestClient) -> None:
    from emd.metrics.catalogue import CATALOGUE

    schema = client.get("/openapi.json").json()
    assert {"/metrics/tiles", "/metrics/series/{metric}", "/insights/sprint-health", "/slack/summaries",
            "/healthz"} <= set(schema["paths"])
    assert set(schema["components"]["schemas"]["MetricKey"]["enum"]) == set(CATALOGUE)
    assert set(schema["components"]["schemas"]["SeriesMetric"]["enum"]) == {k for k, m in CATALOGUE.items()
                                                                            if m.series}
    assert client.get("/docs").status_code == 200


def test_a_build_from_older_marts_answers_503_not_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(path)
    conn = duckdb.connect(str(path))
    conn.execute("alter table mv_planning_by_sprint drop column planning_basis")  # as before the metrics layer
    conn.close()
    publish_build(Warehouse(parse_database_url(f"duckdb:///{path}")), now=PUBLISHED_AT)
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{path}")
    with TestClient(create_app(), raise_server_exceptions=False) as old:
        answer = old.get("/metrics/tiles", params=WINDOW)
    assert answer.status_code == 503, answer.text
    assert "older version of the marts" in answer.json()["detail"]["reason"]
    assert "planning_basis" in answer.json()["detail"]["reason"]


def test_answers_are_cached_per_build_and_computed_once(client: TestClient, live: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from emd.metrics import tiles as layer

    calls: list[object] = []
    original = layer.tiles

    def counted(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(layer, "tiles", counted)
    first = client.get("/metrics/tiles", params={**WINDOW, "team": "web"}).json()
    assert client.get("/metrics/tiles", params={**WINDOW, "team": "web"}).json() == first
    assert len(calls) == 1
    # A new build (republished: its own build id and file) is computed afresh. A build must change to be
    # new (an unchanged one keeps its id): one of platform's deployments flips, web's numbers stay.
    import duckdb

    with duckdb.connect(str(live)) as conn:
        conn.execute("update fct_deployments set is_failure = not is_failure where deployment_id = "
                     "(select min(deployment_id) from fct_deployments where team = 'platform')")
    publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")), now=PUBLISHED_AT)
    assert client.get("/metrics/tiles", params={**WINDOW, "team": "web"}).json()["tiles"] == first["tiles"]
    assert len(calls) == 2
