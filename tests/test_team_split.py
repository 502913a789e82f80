"""The CODEOWNERS team split of a monorepo shared by three teams, from the mock GitHub API over real HTTP through
the pipeline (ingestion per day, dbt build) to the metrics layer and the per-day marts, on DuckDB and Postgres.

The org is tests/dbt_fixtures/monorepo_scenario.py; the window is its five ingested days 03-02 .. 03-06. By hand
(docs/metrics.md: a deployment belongs to its repo's team and, in a CODEOWNERS repo, also counts for every team
whose PRs it shipped; a failure signal fails the latest deployment of the same repo strictly before it):
- deployments: D1 (mono#1, web's PR), D2 (mono#2, data's), D3 (mono#3, platform's), D4 (mono#4, web's revert),
  E1 (svc#1), E2 (svc#2, a hotfix). Teams: D1 platform + web, D2 platform + data, D3 platform, D4 platform + web,
  E1 web, E2 web.
- failures: the revert mono#4 (03-04 11:00) fails D3 (03-03 15:00), recovered by D4 at 03-04 11:00 -> 20 h;
  the hotfix svc#2 (03-05 12:00) fails E1 (03-05 09:00), recovered by E2 at 12:00 -> 3 h.
- rework (carries a hotfix or revert): D4, E2. Hotfixes (by the PR's team): svc#2 (web).
platform: 4 deployments / 5 days = 0.8/day; failed D3 -> 1/4; rework D4 -> 1/4; hotfixes 0 -> 0/4; recovery p50 20.
web:      D1, D4, E1, E2 = 4 -> 0.8/day; failed E1 -> 1/4; rework D4, E2 -> 2/4; hotfix rate 1/4; recovery p50 3.
data:     D2 -> 1/5 = 0.2/day; failed 0 -> 0/1 = 0.0; lead time of its PR mono#2 10:00 - 04:00 = 6 h.
org:      6 deployments -> 1.2/day; failed D3, E1 -> 2/6; rework 2/6; hotfixes 1/6; recovery p50 (20 + 3) / 2 = 11.5.
(Filtering fct_deployments.team, the repo's team, would give web 2 deployments and data 0.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from conftest import ANCHOR, postgres_schema
from dbt_fixtures import monorepo_scenario as scenario

from emd.metrics import tiles
from emd.metrics.filters import Filters
from emd.metrics.source import Source, rows
from mock_apis.org import SyntheticOrg
from mock_apis.server import MockState
from tests.fixtures.pipeline import pipeline_source

START, END = date.fromisoformat(scenario.START_DAY), date.fromisoformat(scenario.END_DAY)
HAND: dict[str | None, dict[str, tuple[float, int]]] = {  # team -> key -> (value, sample size)
    "platform": {"deployment_frequency_per_day": (0.8, 4), "change_failure_rate": (0.25, 4),
                 "deployment_rework_rate": (0.25, 4), "hotfix_rate": (0.0, 4),
                 "failed_deployment_recovery_p50_hours": (20.0, 1)},
    "web": {"deployment_frequency_per_day": (0.8, 4), "change_failure_rate": (0.25, 4),
            "deployment_rework_rate": (0.5, 4), "hotfix_rate": (0.25, 4),
            "failed_deployment_recovery_p50_hours": (3.0, 1)},
    "data": {"deployment_frequency_per_day": (0.2, 1), "change_failure_rate": (0.0, 1),
             "lead_time_p50_hours": (6.0, 1)},
    None: {"deployment_frequency_per_day": (1.2, 6), "change_failure_rate": (2 / 6, 6),
           "deployment_rework_rate": (2 / 6, 6), "hotfix_rate": (1 / 6, 6),
           "failed_deployment_recovery_p50_hours": (11.5, 2)},
}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def layer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    tmp = tmp_path_factory.mktemp(f"team-split-{request.param}")
    state = MockState(org=SyntheticOrg(seed=7, anchor=ANCHOR))
    state.extra["github_data"] = scenario.github()
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    if request.param == "postgres":
        url = postgres_schema(request.getfixturevalue("postgres_database"))[0]
    with pipeline_source(tmp, scenario.config(), state, url, START, END) as opened:
        yield opened


def test_pull_requests_get_the_team_owning_most_changed_lines(layer: Source) -> None:
    found = {(r["repo"], r["number"]): r["team"] for r in rows(layer, "select repo, number, team from fct_pull_requests")}
    assert found == {("acme/mono", 1): "web", ("acme/mono", 2): "data", ("acme/mono", 3): "platform",
                     ("acme/mono", 4): "web", ("acme/svc", 1): "web", ("acme/svc", 2): "web"}


@pytest.mark.parametrize("team", ["platform", "web", "data", None])
def test_a_monorepo_deployment_counts_for_every_team_whose_prs_it_shipped(layer: Source, team: str | None) -> None:
    found = {t.key: t for t in tiles.tiles(layer, Filters(team=team, start=START, end=END))}
    for key, (value, sample) in HAND[team].items():
        assert (found[key].value, found[key].sample_size) == (pytest.approx(value), sample), (team, key)


def test_the_per_day_marts_count_the_same_deployments_per_team(layer: Source) -> None:
    # web per day: 03-02 D1, 03-04 D4, 03-05 E1 + E2; data: 03-03 D2.
    web = [p.value for p in tiles.series(layer, "deployment_frequency_per_day", Filters(team="web", start=START, end=END))]
    assert web == [1.0, 0.0, 1.0, 2.0, 0.0]
    daily = rows(layer, "select team, sum(dora_deployments) as deployments, sum(dora_failed_deployments) as failed "
                        "from metrics_daily where scope_level = 'team' group by team order by team")
    assert [(r["team"], int(r["deployments"]), int(r["failed"])) for r in daily] == [
        ("data", 1, 0), ("platform", 4, 1), ("web", 4, 1)]
