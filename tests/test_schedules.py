"""The hourly refresh, the first-run backfill and the marts-after-ingestion sensor."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from orchestration.defs.ingestion import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    backfill_partition_keys,
    first_run_backfill,
    hourly_refresh,
    marts_after_ingestion,
    range_run_requests,
    refresh_partition_keys,
)


def test_refresh_and_backfill_keys() -> None:
    now = datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc)
    assert refresh_partition_keys(now) == ["2026-02-28", "2026-03-01"]
    assert backfill_partition_keys(now, 3) == ["2026-02-27", "2026-02-28", "2026-03-01"]


def test_hourly_refresh_requests_yesterday_and_today() -> None:
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance,
                                         scheduled_execution_time=datetime(2026, 3, 10, 7, 15, tzinfo=timezone.utc))
        requests = list(hourly_refresh(context))
    # one run over both days (not one run per day)
    assert len(requests) == 1
    assert requests[0].tags == {RANGE_START_TAG: "2026-03-09", RANGE_END_TAG: "2026-03-10"}


def test_long_ranges_split_into_runs_of_thirty_days() -> None:
    keys = [f"2026-01-{d:02d}" for d in range(1, 32)] + ["2026-02-01"]  # 32 days
    requests = range_run_requests(keys, "x")
    # 30 + 2 days: the second run holds the last two days
    assert [(r.tags.get(RANGE_START_TAG), r.tags.get(RANGE_END_TAG)) for r in requests] == [
        ("2026-01-01", "2026-01-30"), ("2026-01-31", "2026-02-01")]
    assert len({r.run_key for r in requests}) == 2


def test_first_run_backfills_configured_days_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("org: acme\ngithub: {repos: [acme/api]}\nbackfill_days: 4\n", encoding="utf-8")
    monkeypatch.setenv("EMD_CONFIG", str(config))
    with DagsterInstance.ephemeral() as instance:
        result = first_run_backfill(build_sensor_context(instance=instance))
        assert isinstance(result, list) and len(result) == 1  # the 4 days in one run
        assert isinstance(result[0], RunRequest)
        assert set(result[0].tags) == {RANGE_START_TAG, RANGE_END_TAG}
        instance.report_runless_asset_event(AssetMaterialization("raw_github_pull_requests", partition="2026-03-01"))
        again = first_run_backfill(build_sensor_context(instance=instance))
        assert isinstance(again, SkipReason)


def test_marts_rebuild_only_after_new_ingestion() -> None:
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), SkipReason)
        instance.report_runless_asset_event(AssetMaterialization("raw_github_pull_requests", partition="2026-03-01"))
        request = marts_after_ingestion(build_sensor_context(instance=instance))
        assert isinstance(request, RunRequest)
        instance.report_runless_asset_event(AssetMaterialization("metrics_daily"))
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), SkipReason)


def test_each_tenants_sensors_look_at_their_own_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tenants' code locations on one Dagster instance (same asset keys): gold's first-run backfill and
    marts sensor ignore acme's ingestion and marts, and follow gold's own."""
    from dagster import asset, materialize

    from orchestration.defs.ingestion import TENANT_TAG

    @asset(key="raw_github_pull_requests")
    def raw_prs() -> None:
        return None

    @asset(key="metrics_daily")
    def marts() -> None:
        return None

    config = tmp_path / "config.yaml"
    config.write_text("org: gold\ngithub: {repos: [gold/api]}\nbackfill_days: 4\n", encoding="utf-8")
    monkeypatch.setenv("EMD_CONFIG", str(config))
    monkeypatch.setenv("EMD_TENANT", "gold")  # what emd.tenants.activate("gold") sets in gold's location
    with DagsterInstance.ephemeral() as instance:
        assert materialize([raw_prs], instance=instance, tags={TENANT_TAG: "acme"}).success
        assert isinstance(first_run_backfill(build_sensor_context(instance=instance)), list)  # gold never ingested
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), SkipReason)
        assert materialize([raw_prs], instance=instance, tags={TENANT_TAG: "gold"}).success
        assert isinstance(first_run_backfill(build_sensor_context(instance=instance)), SkipReason)
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), RunRequest)
        assert materialize([marts], instance=instance, tags={TENANT_TAG: "acme"}).success  # acme's build
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), RunRequest)
        assert materialize([marts], instance=instance, tags={TENANT_TAG: "gold"}).success
        assert isinstance(marts_after_ingestion(build_sensor_context(instance=instance)), SkipReason)


def test_the_alert_sensors_of_a_tenant_skip_another_tenants_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import asset, materialize

    from orchestration.defs.alerts.definitions import nudge_after_refresh, slo_alerts_after_refresh
    from orchestration.defs.ingestion import TENANT_TAG

    @asset(key="fct_agreement_breaches")
    def breaches() -> None:
        return None

    @asset(key="fct_slo_days")
    def slo_days() -> None:
        return None

    monkeypatch.setenv("EMD_TENANT", "gold")
    with DagsterInstance.ephemeral() as instance:
        for tenant, expected in (("acme", SkipReason), ("gold", RunRequest)):
            assert materialize([breaches, slo_days], instance=instance, tags={TENANT_TAG: tenant}).success
            for sensor, key in ((nudge_after_refresh, "fct_agreement_breaches"),
                                (slo_alerts_after_refresh, "fct_slo_days")):
                tick = sensor.evaluate_tick(build_sensor_context(instance=instance))
                assert bool(tick.run_requests) == (expected is RunRequest), (tenant, key, tick.skip_message)
