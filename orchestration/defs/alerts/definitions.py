"""Definitions of the alerts part of the code location: Slack nudges for the teams' working agreements, and the
error-budget alerts of the SLOs (slo_alerts.py: `slo_budget_alerts`, run by `slo_alerts_after_refresh` whenever dbt
rebuilt fct_slo_days).

- `agreement_nudges` (after each refresh: `nudge_after_refresh` runs it whenever dbt rebuilt
  fct_agreement_breaches) posts one message per team with its new breaches; each breach once.
- `agreement_digest` (hourly schedule `agreement_digest_hourly`) posts each team's digest of open breaches once
  its start of day has passed; a re-run that day edits that message.
Both keep what they posted in the `agreement_nudges` table, so re-runs and restarts never post twice: a stored
message whose content changed (a listed breach resolved) is edited with chat.update, like the Sprint Health post.
"""


import json
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    EventLogEntry,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_sensor,
    define_asset_job,
    schedule,
)

from emd import settings, tenants
from emd.config import ProjectConfig
from emd.slack import SlackPoster, slack_target
from emd.warehouse import Warehouse
from orchestration.defs.alerts.nudges import (
    Breach,
    breaches_key,
    breaches_message,
    digest_due,
    digest_message,
    load_breaches,
    new_breaches,
)
from orchestration.defs.alerts.slo_alerts import post_slo_alerts
from orchestration.defs.alerts.store import NudgeRow, read_nudges, record_nudge
from orchestration.defs.ingestion import ours
from orchestration.resources import ProjectConfigResource, WarehouseResource

ALERTS_GROUP = "alerts"
NO_SLACK = "SLACK_BOT_TOKEN and SLACK_CHANNEL_ID are not both set: nothing was posted (Slack is optional)"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _publish(wh: Warehouse, poster: SlackPoster, row: NudgeRow, message: dict[str, Any], now: datetime) -> str:
    """Post a new message, or edit the stored one when its content changed; records it right away."""
    text = json.dumps(message, ensure_ascii=False, sort_keys=True)
    if row.slack_ts and row.slack_message_json == text and row.slack_channel == poster.target.channel:
        return "unchanged"
    channel, ts, action = poster.publish(message, row.slack_channel, row.slack_ts)
    row.slack_channel, row.slack_ts, row.slack_message_json, row.posted_at = channel, ts, text, now
    record_nudge(wh, row)
    return action


def post_new_breaches(wh: Warehouse, config: ProjectConfig, poster: SlackPoster, now: datetime) -> dict[str, Any]:
    """Post each team's new breaches once; re-render stored breach messages (a breach resolved since)."""
    breaches = load_breaches(wh)
    by_id = {b.breach_id: b for b in breaches}
    agreements = {a.team: a for a in config.working_agreements}
    stored = read_nudges(wh)
    posted_ids = {i for row in stored.values() if row.kind == "breaches" and row.slack_ts for i in row.breach_ids}
    jira = settings.env("JIRA_BASE_URL")
    actions = {"posted": 0, "updated": 0, "unchanged": 0}
    lines = []
    # Earlier messages first: their breaches' states may have changed (resolved); only a changed one is edited.
    for row in sorted(stored.values(), key=lambda r: r.message_key):
        if row.kind != "breaches" or row.team not in agreements:
            continue
        listed = [by_id.get(i) for i in row.breach_ids]
        if any(b is None for b in listed):
            continue  # the facts changed under a listed breach: leave the message as it was posted
        message = breaches_message(row.team, [b for b in listed if b is not None], agreements[row.team],
                                   config.dashboard_url, jira, now)
        actions[_publish(wh, poster, row, message, now)] += 1
    fresh = new_breaches(breaches, posted_ids, list(agreements.values()), now)
    for team in sorted(fresh):
        items: list[Breach] = fresh[team]
        row = stored.get(breaches_key(team, items)) or NudgeRow(
            message_key=breaches_key(team, items), team=team, kind="breaches", period=now.isoformat(timespec="seconds"),
            breach_ids_json=json.dumps(sorted(b.breach_id for b in items)), slack_channel=None, slack_ts=None,
            slack_message_json=None, posted_at=None)
        message = breaches_message(team, items, agreements[team], config.dashboard_url, jira, now)
        action = _publish(wh, poster, row, message, now)
        actions[action] += 1
        lines.append(f"| {team} | {len(items)} | {action} |")
    return {**actions, "new_breaches": sum(len(v) for v in fresh.values()),
            "open_breaches": sum(1 for b in breaches if b.closed_at is None),
            "table": "| team | new breaches | action |\n|---|---|---|\n" + "\n".join(lines)}


def post_digests(wh: Warehouse, config: ProjectConfig, poster: SlackPoster, now: datetime) -> dict[str, Any]:
    """Each team's digest of open breaches, once its start of day has passed (a day with none open: no post)."""
    breaches = load_breaches(wh)
    stored = read_nudges(wh)
    jira = settings.env("JIRA_BASE_URL")
    actions = {"posted": 0, "updated": 0, "unchanged": 0, "not_due": 0, "nothing_open": 0}
    for agreement in config.working_agreements:
        if not agreement.rules:
            continue
        local_date = digest_due(agreement, now)
        if local_date is None:
            actions["not_due"] += 1
            continue
        open_now = [b for b in breaches if b.team == agreement.team and b.rule in agreement.rules
                    and b.closed_at is None]
        key = f"digest:{agreement.team}:{local_date}"
        row = stored.get(key)
        if row is None and not open_now:
            actions["nothing_open"] += 1
            continue
        row = row or NudgeRow(message_key=key, team=agreement.team, kind="digest", period=local_date,
                              breach_ids_json="[]", slack_channel=None, slack_ts=None, slack_message_json=None,
                              posted_at=None)
        row.breach_ids_json = json.dumps(sorted(b.breach_id for b in open_now))
        message = digest_message(agreement.team, open_now, agreement, local_date, config.dashboard_url, jira, now)
        actions[_publish(wh, poster, row, message, now)] += 1
    return actions


def _run(context: AssetExecutionContext, project_config: ProjectConfigResource, warehouse: WarehouseResource,
         step) -> MaterializeResult:
    target = slack_target()
    if target is None:
        context.log.info(NO_SLACK)
        return MaterializeResult(metadata={"posted": 0, "updated": 0, "skipped": NO_SLACK})
    config = project_config.load()
    if not config.working_agreements:
        return MaterializeResult(metadata={"posted": 0, "updated": 0,
                                           "skipped": "no team has working_agreements in the config"})
    poster = SlackPoster(target)
    poster.check_auth()
    figures = step(warehouse.get(), config, poster, _now())
    table = figures.pop("table", None)
    metadata: dict[str, Any] = {**figures, "slack_api_calls": poster.calls, "channel": target.channel}
    if table:
        metadata["messages"] = MetadataValue.md(table)
    return MaterializeResult(metadata=metadata)


@asset(
    name="agreement_nudges",
    group_name=ALERTS_GROUP,
    kinds={"python", "slack"},
    deps=[AssetKey("fct_agreement_breaches")],
    pool="warehouse",  # writes the agreement_nudges table
    description="Posts each team's new working-agreement breaches to Slack, each breach once.",
)
def agreement_nudges(context: AssetExecutionContext, project_config: ProjectConfigResource,
                     warehouse: WarehouseResource) -> MaterializeResult:
    """One message per team with the breaches no earlier message listed; edits earlier ones whose breaches resolved."""
    return _run(context, project_config, warehouse, post_new_breaches)


@asset(
    name="agreement_digest",
    group_name=ALERTS_GROUP,
    kinds={"python", "slack"},
    deps=[AssetKey("fct_agreement_breaches")],
    pool="warehouse",
    description="Each team's daily Slack digest of its open working-agreement breaches, at its start of day.",
)
def agreement_digest(context: AssetExecutionContext, project_config: ProjectConfigResource,
                     warehouse: WarehouseResource) -> MaterializeResult:
    """The digest of teams whose start of day has passed today (their zone); a re-run edits today's message."""
    return _run(context, project_config, warehouse, post_digests)


agreement_nudges_job = define_asset_job(
    "agreement_nudges_job", selection=[agreement_nudges],
    description="Post the new working-agreement breaches to Slack (after each refresh of the marts).")
agreement_digest_job = define_asset_job(
    "agreement_digest_job", selection=[agreement_digest],
    description="Post each team's daily digest of open working-agreement breaches.")


@asset_sensor(asset_key=AssetKey("fct_agreement_breaches"), job=agreement_nudges_job,
              default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def nudge_after_refresh(context: SensorEvaluationContext, asset_event: EventLogEntry):
    """Every rebuild of fct_agreement_breaches (the hourly refresh's dbt build) runs the nudges once; another
    tenant's rebuild (same asset key, another code location) does not."""
    if not ours(context.instance, asset_event.run_id, tenants.active()):
        return SkipReason("another tenant's build")
    return RunRequest(run_key=f"breaches-{asset_event.run_id}")


@schedule(cron_schedule="5 * * * *", job=agreement_digest_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING)
def agreement_digest_hourly(context):
    """Hourly: teams whose start of day has passed get their digest (once a day; each team in its own zone)."""
    return RunRequest()


@asset(
    name="slo_budget_alerts",
    group_name=ALERTS_GROUP,
    kinds={"python", "slack"},
    deps=[AssetKey("fct_slo_days")],
    pool="warehouse",  # writes the agreement_nudges table
    description="Posts to Slack when an SLO's error budget crosses 50/25/0 % remaining (once per window, edited "
                "afterwards) and when a day's burn rate reaches 6.",
)
def slo_budget_alerts(context: AssetExecutionContext, project_config: ProjectConfigResource,
                      warehouse: WarehouseResource) -> MaterializeResult:
    """Budget crossings and burn-rate days of every SLO, from the live marts (emd/metrics/slos.py)."""
    target = slack_target()
    if target is None:
        context.log.info(NO_SLACK)
        return MaterializeResult(metadata={"posted": 0, "updated": 0, "skipped": NO_SLACK})
    config = project_config.load()
    poster = SlackPoster(target)
    poster.check_auth()
    figures = post_slo_alerts(warehouse.get(), config.dashboard_url, poster, _now(), _publish)
    return MaterializeResult(metadata={**figures, "slack_api_calls": poster.calls, "channel": target.channel})


slo_alerts_job = define_asset_job(
    "slo_alerts_job", selection=[slo_budget_alerts],
    description="Post SLO error-budget crossings and high burn rates to Slack (after each refresh of the marts).")


@asset_sensor(asset_key=AssetKey("fct_slo_days"), job=slo_alerts_job,
              default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def slo_alerts_after_refresh(context: SensorEvaluationContext, asset_event: EventLogEntry):
    """Every rebuild of fct_slo_days (the hourly refresh's dbt build) runs the SLO alerts once; another
    tenant's rebuild does not."""
    if not ours(context.instance, asset_event.run_id, tenants.active()):
        return SkipReason("another tenant's build")
    return RunRequest(run_key=f"slo-days-{asset_event.run_id}")


def alerts_defs() -> Definitions:
    return Definitions(assets=[agreement_nudges, agreement_digest, slo_budget_alerts],
                       jobs=[agreement_nudges_job, agreement_digest_job, slo_alerts_job],
                       sensors=[nudge_after_refresh, slo_alerts_after_refresh], schedules=[agreement_digest_hourly])
