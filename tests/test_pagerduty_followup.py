"""An incident resolved days after it opened is seen resolved after the next hourly refresh (issue 23, item 3).

The hand-made org of dbt_fixtures/sources_scenario.py is served by the mock over real HTTP. PagerDuty #2
(PPLAT01, platform, high urgency) opens 03-04 12:00 and is still open when 03-02..03-06 are ingested and the
marts built (here: ingested only, the marts are built once, after the refresh). It is resolved 03-07 10:00; the hourly refresh then reads 03-06 and 03-07 only (not 03-04, its
creation day) and the marts are rebuilt. By hand from docs/metrics.md:
- #2 resolved 03-07 10:00, resolution 03-04 12:00 -> 03-07 10:00 = 70 h;
- it is attributed to the latest mono deployment before it, workflow run 16 (03-04 09:40), which recovers at
  #2's resolution: 03-04 09:40 -> 03-07 10:00 = 72 h 20 min.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from dbt_fixtures import sources_scenario as scenario

from emd.settings import database_target
from emd.warehouse import Warehouse
from mock_apis.pagerduty import incident
from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, run_pipeline


def naive(text: str) -> datetime:
    return scenario.t(text).replace(tzinfo=None)


def rows(sql: str) -> list[dict]:
    with Warehouse(database_target()).connect(read_only=True) as conn:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_incident_resolved_three_days_later_is_resolved_after_the_hourly_refresh(
        engine: str, tmp_path, request: pytest.FixtureRequest) -> None:
    database_url = request.getfixturevalue("postgres_url") if engine == "postgres" else None
    with scenario.served(tmp_path, database_url) as api:
        state = api.state
        run_pipeline(date(2026, 3, 2), date(2026, 3, 6), steps=(INGESTION_JOB,), log=lambda _: None)
        assert [r["status"] for r in rows("select status from raw_pagerduty_incidents where incident_number = 2")
                ] == ["triggered"]

        state.extra["pagerduty_incidents"] = [
            incident(2, "PPLAT01", scenario.t("03-04 12:00"), scenario.t("03-07 10:00"), "high", "Queue backlog")
            if i["incident_number"] == 2 else i for i in scenario.pagerduty()]
        single_reads = state.counts.get("pagerduty:incident", 0)
        run_pipeline(date(2026, 3, 6), date(2026, 3, 7), steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)  # today and yesterday

        after = {r["key"]: r for r in rows("select * from fct_incidents where source = 'pagerduty'")}
        assert after["2"]["resolved_at"] == naive("03-07 10:00")
        assert after["2"]["resolution_hours"] == pytest.approx(70.0)
        assert after["1"]["resolved_at"] == naive("03-03 18:00")  # untouched
        deployment = rows("select * from fct_deployments where deployment_id = 'workflow:acme/mono:16'")[0]
        assert deployment["is_failure"] and deployment["recovered_at"] == naive("03-07 10:00")
        assert deployment["recovery_hours"] == pytest.approx(72 + 20 / 60)
        # Only #2 changed on 03-06..03-07 (its resolve log entry): one incident read by id.
        assert state.counts["pagerduty:incident"] - single_reads == 1
        # The refreshed state sits in 03-07's partition; 03-04's still holds the state fetched then.
        stored = rows("select partition_date, status from raw_pagerduty_incidents where incident_number = 2 "
                      "order by partition_date")
        assert [(str(r["partition_date"]), r["status"]) for r in stored] == [
            ("2026-03-04", "triggered"), ("2026-03-07", "resolved")]
