"""`slo_events` (one multi-asset, daily partitions): per Prometheus SLO (emd/slos.py) the day's events, and the events
in the 24 hours after each deployment.

- `raw_slo_events`: per SLO and UTC day, the day's good, bad and total events - one Prometheus query per SLO and
  day (resource.py), evaluated at the day's end (today: now).
- `raw_slo_deployment_events`: per deployment whose 24 hours ended in the day, and Prometheus SLO of its team, the
  events of exactly those 24 hours - one query each. The deployments are those of the marts' last build
  (fct_deployments is derived in dbt, after ingestion), so a deployment's burn lands with the first refresh of the
  day its 24 hours end after the marts know it (the hourly refresh re-reads yesterday and today; a backfill reads
  older days again).

A day is replaced in one transaction like every other source; an unreachable or failing Prometheus fails the day
with a message naming PROMETHEUS_URL and the SLO, and the days already written stay. Unusable OpenSLO documents are
logged as warnings and listed in the metadata (by file, name and reason); the others still load. Incident-based
SLOs need no ingestion (dbt computes their downtime from fct_incidents).
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from emd.slos import Slo, load_slos
from emd.warehouse import Warehouse, to_db_timestamp, to_json
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import check_specs, ingest_days
from orchestration.defs.slos.resource import PrometheusClient, PrometheusResource, day_range
from orchestration.partitions import daily_partitions, day_window, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

TABLE = "raw_slo_events"
DEPLOYMENT_TABLE = "raw_slo_deployment_events"
TABLES = {
    TABLE: "Per Prometheus SLO and UTC day: the day's good, bad and total events (NULLs without data).",
    DEPLOYMENT_TABLE: "Per deployment whose 24 hours ended in the day and Prometheus SLO of its team: the events "
                      "of those 24 hours.",
}
BURN_WINDOW = timedelta(hours=24)


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


def closed_deployments(wh: Warehouse, teams: set[str], partition_key: str, now: datetime) -> list[dict[str, Any]]:
    """Deployments of the marts' last build whose 24 hours ended in the day (and before now), of `teams`."""
    if not teams:
        return []
    ph = "?" if wh.kind == "duckdb" else "%s"
    known = wh.query("select count(*) from information_schema.tables "  # noqa: S608 - a placeholder, no value
                     f"where table_schema = current_schema() and table_name = {ph}", ["fct_deployments"],
                     read_only=False)  # a first run may find no warehouse file yet (it is about to write one)
    if not known[0][0]:
        return []
    day_start, day_end = day_window(partition_key)
    until = min(day_end, now)
    found = wh.query(
        f"select deployment_id, team, deployed_at from fct_deployments where deployed_at >= {ph} "  # noqa: S608
        f"and deployed_at < {ph} and team in ({', '.join([ph] * len(teams))}) order by deployed_at, deployment_id",
        [to_db_timestamp(day_start - BURN_WINDOW), to_db_timestamp(until - BURN_WINDOW), *sorted(teams)])
    return [{"deployment_id": r[0], "team": r[1], "deployed_at": r[2].replace(tzinfo=UTC)} for r in found]


def deployment_event_rows(client: PrometheusClient, slos: list[Slo], deployments: list[dict[str, Any]]
                          ) -> list[dict[str, Any]]:
    out = []
    for deployment in deployments:
        start = deployment["deployed_at"]
        for slo in (s for s in slos if s.team == deployment["team"]):
            events = client.events(slo, start, start + BURN_WINDOW)
            out.append({
                "deployment_id": deployment["deployment_id"], "slo_name": slo.name,
                "deployed_at": to_db_timestamp(start), "window_end": to_db_timestamp(start + BURN_WINDOW),
                "bad": events.bad, "total": events.total, "query": events.query, "payload": to_json(events.payload),
            })
    return out


@multi_asset(
    name="slo_events",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds={"prometheus"}, description=text)
           for table, text in TABLES.items()],
    check_specs=[spec for table in TABLES for spec in check_specs(table)],
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def slo_events(context: AssetExecutionContext, prometheus: PrometheusResource,
               project_config: ProjectConfigResource, warehouse: WarehouseResource
               ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Prometheus SLO events per UTC day and per closed deployment window; empty partitions without such SLOs."""
    definitions = load_slos(project_config.load())
    for problem in definitions.problems:
        context.log.warning(str(problem))
    slos = definitions.ratio()
    client = prometheus.client() if slos else None
    wh = warehouse.get()
    deployments_seen = 0

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        nonlocal deployments_seen
        if client is None:
            return {TABLE: [], DEPLOYMENT_TABLE: []}
        deployments = closed_deployments(wh, {s.team for s in slos}, key, datetime.now(UTC))
        deployments_seen += len(deployments)
        return {TABLE: slo_event_rows(client, slos, key),
                DEPLOYMENT_TABLE: deployment_event_rows(client, slos, deployments)}

    days = ingest_days(wh, context.partition_keys, fetch)
    for table in TABLES:
        metadata: dict[str, Any] = {"rows": days.written.get(table, 0), "window": days.window(),
                                    "partitions": len(days.by_day),
                                    "rows_by_day": MetadataValue.json(days.rows_by_day(table))}
        if table == TABLE:
            metadata.update({"slos": len(slos), "unusable_slo_documents": MetadataValue.json(
                [{"source": p.source, "name": p.name, "reason": p.reason} for p in definitions.problems])})
            if client is not None:
                metadata.update({**client.stats.as_metadata(), "deployments": deployments_seen})
        yield MaterializeResult(asset_key=table, metadata=metadata)
    yield from days.checks
