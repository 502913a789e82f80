"""Definitions of the dbt part of the code location: the dbt models as assets, `marts_job` (dbt build)
and `marts_full_refresh_job` (dbt build --full-refresh). Both end by publishing the dashboard snapshot,
which runs only when the build succeeded, so the dashboard keeps the last complete build otherwise."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.assets import build_dbt_assets, dbt_project
from orchestration.defs.dbt.project import dbt_executable
from orchestration.job_names import MARTS_FULL_REFRESH_JOB, MARTS_JOB

# dagster.yaml limits runs with this tag to one at a time (two dbt builds at once would replace each other's tables).
SERIAL_TAGS = {"emd/serial": "marts"}


def dbt_defs() -> Definitions:
    project = dbt_project()
    models = build_dbt_assets(project)
    marts_job = define_asset_job(
        MARTS_JOB,
        selection=AssetSelection.assets(models) | AssetSelection.groups("serving"),
        description="dbt build: staging -> intermediate -> marts, with their data tests. Incremental models take only "
                    "what was fetched since the last complete build; a full refresh when the config's dbt variables "
                    "or the dbt project changed since then (docs/incremental.md).",
        tags=SERIAL_TAGS,
    )
    full_refresh_job = define_asset_job(
        MARTS_FULL_REFRESH_JOB,
        selection=AssetSelection.assets(models) | AssetSelection.groups("serving"),
        config={"ops": {models.op.name: {"config": {"full_refresh": True}}}},
        description="dbt build --full-refresh: rebuild every model, incremental ones included, from scratch over all "
                    "raw rows (after a fix to the raw data or when an incremental table is in doubt; "
                    "docs/incremental.md).",
        tags=SERIAL_TAGS,
    )
    return Definitions(
        assets=[models],
        jobs=[marts_job, full_refresh_job],
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable())},
    )
