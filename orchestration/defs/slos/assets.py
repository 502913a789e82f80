"""`raw_slo_events`: per SLO (emd/slos.py, Prometheus ratio SLOs) and UTC day, the day's good, bad and total events.

One Prometheus query per SLO and day (resource.py), evaluated at the day's end (today: now). The day is replaced
in one transaction like every other source; an unreachable or failing Prometheus fails the day with a message
naming PROMETHEUS_URL and the SLO, and the days already written stay. Unusable OpenSLO documents are logged as
warnings and listed in the metadata (by file, name and reason); the others still load. Incident-based SLOs need
no ingestion (dbt computes their downtime from fct_incidents).
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from emd.slos import Slo, load_slos
from emd.warehouse import to_db_timestamp, to_json
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import check_specs, ingest_days
from orchestration.defs.slos.resource import PrometheusClient, PrometheusResource, day_range
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

TABLE = "raw_slo_events"


def slo_event_rows(client: PrometheusClient, slos: list[Slo], partition_key: str) -> list[dict[str, Any]]:
    start, end = day_range(day_window(partition_key)[0])
    out = []
    for slo in slos:
        events = client.events(slo, start, end)
        out.append({
            "slo_name": slo.name, "service": slo.service, "team": slo.team, "target": slo.target,
            "window_days": slo.window_days, "good": events.good, "bad": events.bad, "total": events.total,
            "evaluated_at": to_db_timestamp(end), "query": events.query, "payload": to_json(events.payload),
        })
    return out


@asset(name=TABLE, group_name=INGESTION_GROUP, kinds={"prometheus"},
       partitions_def=daily_partitions, backfill_policy=ingestion_backfill_policy, pool=WAREHOUSE_POOL,
       check_specs=check_specs(TABLE))
def raw_slo_events(context: AssetExecutionContext, prometheus: PrometheusResource,
                   project_config: ProjectConfigResource, warehouse: WarehouseResource
                   ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Good, bad and total events of each Prometheus SLO per UTC day; an empty partition without such SLOs."""
    definitions = load_slos(project_config.load())
    for problem in definitions.problems:
        context.log.warning(str(problem))
    slos = definitions.ratio()
    client = prometheus.client() if slos else None

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        return {TABLE: slo_event_rows(client, slos, key) if client is not None else []}

    days = ingest_days(warehouse.get(), context.partition_keys, fetch)
    metadata: dict[str, Any] = {
        "rows": days.written[TABLE], "window": days.window(), "partitions": len(days.by_day),
        "slos": len(slos), "rows_by_day": MetadataValue.json(days.rows_by_day(TABLE)),
        "unusable_slo_documents": MetadataValue.json([{"source": p.source, "name": p.name, "reason": p.reason}
                                                      for p in definitions.problems]),
    }
    if client is not None:
        metadata.update({**client.stats.as_metadata(),
                         "requests_per_slo_day": round(client.stats.requests / max(1, len(slos) * len(days.by_day)), 3)})
    yield MaterializeResult(metadata=metadata)
    yield from days.checks
