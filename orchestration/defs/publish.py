"""The dashboard snapshot asset (group `serving`): publish the last complete build for the dashboard."""

from dagster import AssetExecutionContext, AssetKey, Definitions, MaterializeResult, MetadataValue, asset

from emd.snapshot import INSIGHTS_TABLES, MART_TABLES, publish_build
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

SERVING_GROUP = "serving"
# The marts (dbt models keep their model name as asset key) and the Sprint Health table, then the
# Slack post, which records where each card was posted in that table (so insights_job publishes after it).
SNAPSHOT_DEPS = [AssetKey(name) for name in MART_TABLES + INSIGHTS_TABLES] + [AssetKey("sprint_health_slack_post")]


@asset(
    name="dashboard_snapshot",
    group_name=SERVING_GROUP,
    deps=SNAPSHOT_DEPS,
    kinds={"python"},  # + the warehouse's kind (orchestration/definitions.py)
    pool=WAREHOUSE_POOL,
    description=(
        "The dashboard's read-only view of the warehouse. DuckDB: the marts and sprint_health copied "
        "consistently into a new file, then switched into place atomically "
        "(data/warehouse.published.duckdb). Postgres: the same tables copied into a schema of their own "
        "(`<schema>__build_<n>`) that `_build` points at, in one transaction. "
        "A build with the same rows as the published one keeps its build id (caches stay warm)."
    ),
)
def dashboard_snapshot(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    result = publish_build(warehouse.get())
    if result["unchanged"]:
        context.log.info(f"nothing changed since build {result['build_id']}: it stays published ({result['target']})")
    else:
        context.log.info(f"published build {result['build_id']} to {result['target']} ({result['rows']} rows)")
    return MaterializeResult(
        metadata={
            "build_id": result["build_id"],
            "published_at": result["published_at"],
            "target": result["target"],
            "rows": MetadataValue.int(int(result["rows"])),
            "tables": MetadataValue.json(result["tables"]),
            "missing_tables": MetadataValue.json(result["missing"]),
            "unchanged": MetadataValue.bool(bool(result["unchanged"])),
        }
    )


def publish_defs() -> Definitions:
    return Definitions(assets=[dashboard_snapshot])
