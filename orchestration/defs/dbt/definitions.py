"""Definitions of the dbt part of the code location: the dbt models as assets, `marts_job` (dbt build)
and `marts_full_refresh_job` (dbt build --full-refresh). Both end by publishing the dashboard snapshot,
which runs only when the build succeeded, so the dashboard keeps the last complete build otherwise."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.assets import build_dbt_assets, dbt_project
from orchestration.defs.dbt.project import dbt_executable
from orchestration.job_names import MARTS_FULL_REFRESH_JOB, MARTS_JOB


def dbt_defs() -> Definitions:
    project = dbt_project()
    models = build_dbt_assets(project)
    marts_job = define_asset_job(
        MARTS_JOB,
        selection=AssetSelection.assets(models) | AssetSelection.groups("serving"),
        description="dbt build: staging -> intermediate -> marts, with their data tests.",
    )
    full_refresh_job = define_asset_job(
        MARTS_FULL_REFRESH_JOB,
        selection=AssetSelection.assets(models) | AssetSelection.groups("serving"),
        config={"ops": {models.op.name: {"config": {"full_refresh": True}}}},
        description="dbt build --full-refresh: rebuild every model from scratch.",
    )
    return Definitions(
        assets=[models],
        jobs=[marts_job, full_refresh_job],
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable())},
    )
