"""The ingestion job over every source's day-partitioned assets (group `ingestion`)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.partitions import daily_partitions

INGESTION_GROUP = "ingestion"

ingestion_job = define_asset_job(
    "ingestion_job",
    selection=AssetSelection.groups(INGESTION_GROUP),
    partitions_def=daily_partitions,
    description="Fetch one UTC day of GitHub and Jira activity into the raw_* tables.",
)


def ingestion_defs() -> Definitions:
    return Definitions(jobs=[ingestion_job])
