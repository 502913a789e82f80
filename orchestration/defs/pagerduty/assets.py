"""`raw_pagerduty_incidents`: PagerDuty incidents created in the UTC day, of the services the project config
maps to teams (`incidents.pagerduty.services`); an empty partition when PagerDuty is not configured.

Incidents change after their creation day (acknowledged, resolved): the hourly refresh re-reads today and
yesterday, and a backfill of older days picks up later resolutions.
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, asset

from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.pagerduty.resource import PagerDutyResource, incident_rows
from orchestration.defs.raw_checks import check_specs, write_and_check
from orchestration.partitions import daily_partitions, day_window
from orchestration.resources import ProjectConfigResource, WarehouseResource


@asset(name="raw_pagerduty_incidents", group_name=INGESTION_GROUP, kinds={"pagerduty"},
       partitions_def=daily_partitions, check_specs=check_specs("raw_pagerduty_incidents"))
def raw_pagerduty_incidents(context: AssetExecutionContext, pagerduty: PagerDutyResource,
                            project_config: ProjectConfigResource, warehouse: WarehouseResource
                            ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """PagerDuty incidents of the mapped services created in the day, in their state at fetch time."""
    config = project_config.load()
    start, end = day_window(context.partition_key)
    rows = []
    metadata: dict = {"window": f"[{start.isoformat()}, {end.isoformat()})"}
    if config.pagerduty is not None:
        client = pagerduty.client()
        rows = incident_rows(client.incidents_between(start, end, config.pagerduty))
        metadata.update({**client.stats.as_metadata(), "services": len(config.pagerduty.services)})
    written, checks = write_and_check(warehouse.get(), {"raw_pagerduty_incidents": rows}, context.partition_key)
    yield MaterializeResult(metadata={"rows": written["raw_pagerduty_incidents"], **metadata})
    yield from checks
