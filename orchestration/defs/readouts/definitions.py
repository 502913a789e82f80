"""The monthly executive readout: `exec_readout` (monthly partitions) writes the month's readout of the
org and of the teams listed under `readouts.teams` to each of `readouts.targets`; the schedule
`exec_readout_monthly` runs the month just ended on the 1st. It reads the published build and writes
no warehouse table (so it is outside the `warehouse` pool). One scope or target that fails does not stop
the others; the run then fails naming each one. Re-running a month rewrites the same file, deck or page."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from emd.readout.run import prepare, write
from orchestration.partitions import month_of, monthly_partitions
from orchestration.resources import ProjectConfigResource

READOUTS_GROUP = "readouts"


@asset(partitions_def=monthly_partitions, group_name=READOUTS_GROUP, kinds={"pptx", "googleslides", "notion"})
def exec_readout(context: AssetExecutionContext, project_config: ProjectConfigResource) -> MaterializeResult:
    """The month's executive readout (DORA, flow, planning, agreements, SLOs, trends, a grounded summary)
    for the org and the configured teams, written to every configured target."""
    config = project_config.load()
    period = month_of(context.partition_key)
    scopes: list[str | None] = ([None] if config.readouts.org else []) + list(config.readouts.teams)
    written: list[str] = []
    failed: list[str] = []
    for team in scopes:
        scope = f"team {team}" if team else "the org"
        try:
            readout = prepare(period, team=team)
        except ValueError as exc:  # ReadoutError / FilterError: the message names what to fix
            failed.append(f"{scope}: {exc}")
            continue
        for target in config.readouts.targets:
            out = Path(config.readouts.out_dir) / f"readout-{period}-{team or 'org'}.pptx"
            try:
                written.append(f"{target} {scope}: {write(readout, target, out).location}")
            except (ValueError, RuntimeError) as exc:
                failed.append(f"{target} {scope}: {exc}")
    context.log.info("readouts of %s: %d written, %d failed", period, len(written), len(failed))
    if failed:
        raise Failure(description=f"{len(failed)} readout(s) of {period} failed: " + " | ".join(failed),
                      metadata={"written": MetadataValue.json(written), "failed": MetadataValue.json(failed)})
    return MaterializeResult(metadata={"period": period, "written": MetadataValue.json(written),
                                       "readouts": len(written)})


exec_readout_job = define_asset_job("exec_readout_job", selection=[exec_readout], partitions_def=monthly_partitions)
# On the 1st (06:00 UTC, after the night's refreshes) for the month just ended.
exec_readout_monthly = build_schedule_from_partitioned_job(exec_readout_job, hour_of_day=6, name="exec_readout_monthly",
                                                           default_status=DefaultScheduleStatus.RUNNING)


def readouts_defs() -> Definitions:
    return Definitions(assets=[exec_readout], jobs=[exec_readout_job], schedules=[exec_readout_monthly])
