"""`raw_pagerduty_incidents`: PagerDuty incidents created in the UTC day, and those created earlier that changed
in it, of the services the project config maps to teams (`incidents.pagerduty.services`); an empty partition
when PagerDuty is not configured.

Incidents change after their creation day (acknowledged, resolved days later). The day's log entries name the
incidents that changed in it, and their current state is stored in that day's partition too, so the hourly
refresh of today and yesterday sees an incident resolved today whenever it opened. Re-running a partition
replaces exactly its rows (idempotent); an incident may so sit in several partitions, and staging
(stg_pagerduty__incidents) keeps its newest state by fetch time.
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, asset

from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.pagerduty.resource import PagerDutyResource, incident_rows
from orchestration.defs.raw_checks import check_specs, ingest_days
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource


@asset(name="raw_pagerduty_incidents", group_name=INGESTION_GROUP, kinds={"pagerduty"},
       partitions_def=daily_partitions, backfill_policy=ingestion_backfill_policy, pool=WAREHOUSE_POOL,
       check_specs=check_specs("raw_pagerduty_incidents"))
def raw_pagerduty_incidents(context: AssetExecutionContext, pagerduty: PagerDutyResource,
                            project_config: ProjectConfigResource, warehouse: WarehouseResource
                            ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """PagerDuty incidents of the mapped services created in the day, and older ones that changed in it, in their
    state at fetch time."""
    config = project_config.load()
    client = pagerduty.client() if config.pagerduty is not None else None
    followed = 0

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        if client is None or config.pagerduty is None:
            return {"raw_pagerduty_incidents": []}
        created = client.incidents_between(*day_window(key), config.pagerduty)
        changed = client.incidents_changed_between(*day_window(key), config.pagerduty)
        nonlocal followed
        followed += len(changed)
        return {"raw_pagerduty_incidents": incident_rows(created + changed)}

    days = ingest_days(warehouse.get(), context.partition_keys, fetch, asset="raw_pagerduty_incidents")
    metadata = days.metadata("raw_pagerduty_incidents")
    if client is not None and config.pagerduty is not None:
        metadata.update({**client.stats.as_metadata(), "services": len(config.pagerduty.services),
                         "earlier_incidents_changed": followed,
                         "changed_incidents_not_found": ", ".join(client.vanished) or "none"})
    yield MaterializeResult(metadata=metadata)
    yield from days.checks
