"""The dbt models as Dagster assets (dagster-dbt), downstream of the ingestion assets.

Sources map to the ingestion assets' keys (the raw table name, one element), so the UI shows one
lineage graph from the APIs to the marts; models keep their default key (the model name) and are
grouped by layer (staging, intermediate, marts).
"""

# No `from __future__ import annotations`: Dagster resolves the asset function's config annotation at runtime.
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Config
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from emd.settings import DatabaseTarget
from orchestration.defs.dbt.project import (
    DBT_PROJECT_DIR,
    build_plan,
    dbt_environment,
    dbt_vars,
    keep_partial_parse,
    project_hash,
    prune_run_dirs,
    run_dbt,
    vars_arg,
    watermark_lookback_seconds,
)
from orchestration.defs.dbt.state import read_build_state, record_build_state
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

LAYER_GROUPS = ("staging", "intermediate", "marts")


class EmdDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(dbt_resource_props["name"])  # == the ingestion asset writing that raw table
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        layer = fqn[1] if len(fqn) > 2 else None
        return layer if layer in LAYER_GROUPS else "marts"


class DbtBuildConfig(Config):
    # rebuild every model from scratch (`dbt build --full-refresh`); without it the incremental models take only
    # what was fetched since the last complete build, unless the config's dbt variables changed (docs/incremental.md)
    full_refresh: bool = False


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _sources_newer_than(manifest: Path) -> bool:
    """A model, macro or config changed since the manifest was written (a developer's checkout)."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    watched = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "tests"):
        watched.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return any(path.is_file() and path.stat().st_mtime > built for path in watched)


def ensure_manifest(project: DbtProject) -> Path:
    """`dbt parse` when the manifest is missing or older than the project (a fresh clone has no target/).

    Parsing needs no warehouse: the DuckDB profile is pointed at a file dbt never opens while parsing.
    """
    if _sources_newer_than(project.manifest_path):
        target = DatabaseTarget("duckdb", duckdb_path=project.project_dir / "target" / "parse-only.duckdb")
        run_dbt(["parse", "--quiet"], target, work_dir=None, target_path=project.manifest_path.parent)
    return project.manifest_path


def build_dbt_assets(project: DbtProject) -> AssetsDefinition:
    @dbt_assets(
        manifest=ensure_manifest(project),
        project=project,
        dagster_dbt_translator=EmdDbtTranslator(),
        name="dbt_models",
        pool=WAREHOUSE_POOL,  # dbt build writes every model: one writer at a time on DuckDB
    )
    def dbt_models(context: AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
                   project_config: ProjectConfigResource, warehouse: WarehouseResource):
        """`dbt build` (models and their data tests) against the warehouse DATABASE_URL names, with the
        project config as --vars: incremental, or a full refresh when asked or when the config's dbt
        variables (or the project's models) changed since the last complete build (build_plan)."""
        import os
        from datetime import UTC, datetime

        warehouse_db = warehouse.get()
        previous, newest_fetch = read_build_state(warehouse_db)
        plan = build_plan(dbt_vars(project_config.load()), previous, newest_fetch,
                          requested_full_refresh=config.full_refresh, code_hash=project_hash(project.project_dir),
                          lookback_seconds=watermark_lookback_seconds(warehouse_db.kind, os.environ))
        # Unit tests check the SQL, not the data: they run in `make test` (tests/test_dbt_unit_tests.py).
        args = ["build", "--exclude-resource-type", "unit_test", *vars_arg(plan.variables)]
        if plan.full_refresh:
            args.append("--full-refresh")
        target = warehouse_db.target
        context.log.info(f"dbt build against {target.describe()}: {plan.reason}")
        build_metadata = {"emd/dbt_build": "full refresh" if plan.full_refresh else "incremental",
                          "emd/dbt_build_reason": plan.reason}
        with dbt_environment(target):
            invocation = dbt.cli(args, context=context)
            for event in invocation.stream():
                yield event.with_metadata({**(event.metadata or {}), **build_metadata}) \
                    if hasattr(event, "with_metadata") else event
        record_build_state(warehouse_db, plan.state, built_at=datetime.now(UTC).replace(tzinfo=None),
                           full_refresh=plan.full_refresh)
        keep_partial_parse(invocation.target_path, project.project_dir / "target")
        prune_run_dirs(project.project_dir / "target", prefix=f"{context.op_def.name}-")

    return dbt_models
