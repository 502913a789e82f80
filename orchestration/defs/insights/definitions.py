"""Definitions of the insights part of the code location: the Sprint Health card and its Slack post.

- `sprint_health` writes one card per team and completed sprint (teams without sprints: per completed
  ISO week) into the `sprint_health` table; the model is called only for blobs it has not seen.
- `sprint_health_slack_post` posts each team's latest card once, and edits that message on re-runs.
- `insights_job` runs both (what `emd pipeline` runs after the marts); `post_when_sprint_completes`
  starts it when a sprint closes; `weekly_cards` runs it on Mondays 09:00 UTC for teams without sprints.
  Materializing from the Dagster UI is the manual post.
"""


import hashlib
from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
    sensor,
)

from emd.metrics.source import EmptyWarehouse, Source, open_source, rows
from emd.slack import SlackPoster, latest_per_team, post_card
from emd.sprint_health import adopt_legacy, read_rows
from emd.text import markdown_escape
from orchestration.defs.insights.cache import write_cards
from orchestration.defs.insights.card import CardWriter
from orchestration.defs.insights.resources import LlmResource, SlackResource
from orchestration.job_names import INSIGHTS_JOB
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

INSIGHTS_GROUP = "insights"
# mv_dora_by_repo_day only gives the end of the ingested range (when the last week is complete).
MART_DEPS = [AssetKey("mv_planning_by_sprint"), AssetKey("fct_pull_requests"), AssetKey("fct_deployments"),
             AssetKey("mv_dora_by_repo_day")]


class SprintHealthConfig(Config):
    """`rewrite_posted`: write again the cards already posted to Slack whose metrics changed (`emd cards
    --rewrite`); by default they stay as posted, so recomputed history does not buy a round of model calls."""

    rewrite_posted: bool = False


@asset(
    name="sprint_health",
    group_name=INSIGHTS_GROUP,
    kinds={"python", "openai"},
    deps=MART_DEPS,
    pool=WAREHOUSE_POOL,
    description="One Sprint Health card per team and completed sprint (or ISO week for teams without sprints).",
)
def sprint_health(context: AssetExecutionContext, config: SprintHealthConfig, project_config: ProjectConfigResource,
                  warehouse: WarehouseResource, llm: LlmResource) -> MaterializeResult:
    """Metrics blob -> model (or the rule-based card) -> the `sprint_health` table; cached by blob hash."""
    teams = [t.name for t in project_config.load().teams]
    wh = warehouse.get()
    writer = CardWriter(llm.settings())
    figures = write_cards(wh, teams, writer, datetime.now(UTC).replace(tzinfo=None), config.rewrite_posted)
    context.log.info(f"sprint_health: {figures['cards_written']} cards written, {figures['cache_hits']} cached, "
                     f"{figures['posted_kept']} kept as posted, "
                     f"{figures['model_calls']} model calls, {figures['llm_tokens']} tokens")
    return MaterializeResult(metadata={
        **{k: v for k, v in figures.items() if k != "fallback_reasons"},
        "fallback_reasons": MetadataValue.text(str(figures["fallback_reasons"])),
        "warehouse": wh.describe(),
    })


class SlackPostConfig(Config):
    """Which period kinds to post: the sprint sensor posts sprints, the Monday schedule posts weeks."""

    period_kinds: list[str] = ["sprint", "week"]


@asset(
    name="sprint_health_slack_post",
    group_name=INSIGHTS_GROUP,
    kinds={"python", "slack"},
    deps=[AssetKey("sprint_health")],
    pool=WAREHOUSE_POOL,
    description="Posts each team's latest Sprint Health card to Slack once; re-runs edit that message.",
)
def sprint_health_slack_post(context: AssetExecutionContext, config: SlackPostConfig,
                             project_config: ProjectConfigResource, warehouse: WarehouseResource,
                             slack: SlackResource) -> MaterializeResult:
    """Block Kit post of each team's most recent completed period; chat.update when it was posted before."""
    target = slack.target()
    if target is None:
        note = "SLACK_BOT_TOKEN and SLACK_CHANNEL_ID are not both set: nothing was posted (Slack is optional)"
        context.log.info(note)
        return MaterializeResult(metadata={"posted": 0, "updated": 0, "skipped": note})
    dashboard_url = project_config.load().dashboard_url
    wh = warehouse.get()
    adopt_legacy(wh)  # (this asset holds the warehouse pool)
    latest = latest_per_team(list(read_rows(wh).values()), tuple(config.period_kinds))
    poster = SlackPoster(target)
    poster.check_auth()
    actions = {"posted": 0, "updated": 0}
    lines = []
    for row in latest:
        # Recorded right away, so a failure on a later team never causes a duplicate for this one.
        _, _, action = post_card(poster, wh, row, dashboard_url)
        actions[action] += 1
        # outside text in a markdown table: escaped, so a name shows as written (no links, no table breaks)
        lines.append(f"| {markdown_escape(row.team)} | {markdown_escape(row.period_name)} | {action} |")
    table = "| team | period | action |\n|---|---|---|\n" + "\n".join(lines)
    return MaterializeResult(metadata={
        **actions, "slack_api_calls": poster.calls, "channel": target.channel, "messages": MetadataValue.md(table)})


insights_job = define_asset_job(
    INSIGHTS_JOB,
    # The dashboard snapshot is republished so the dashboard shows the new cards.
    selection=AssetSelection.assets(sprint_health, sprint_health_slack_post) | AssetSelection.groups("serving"),
    description="Write the Sprint Health cards, post each team's latest one to Slack, republish the dashboard.",
    tags={"emd/serial": "insights"},  # one at a time (dagster.yaml), so a card is never posted twice
)


def _post_config(kinds: list[str]) -> dict:
    return {"ops": {"sprint_health_slack_post": {"config": {"period_kinds": kinds}}}}


def latest_closed_sprints(source: Source) -> str:
    """A fingerprint of each team's latest closed sprint in a published build; it changes when a sprint completes."""
    found = rows(source, "select team, sprint_id, coalesce(completed_at, end_at) as ended "
                         "from mv_planning_by_sprint where state = 'closed'")
    latest: dict[str, tuple] = {}
    for row in found:
        team, sprint_id, ended = row["team"], row["sprint_id"], row["ended"]
        if ended is not None and (team not in latest or (ended, str(sprint_id)) > latest[team]):
            latest[team] = (ended, str(sprint_id))
    return ",".join(f"{team}:{latest[team][1]}" for team in sorted(latest, key=str))


@sensor(job=insights_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=300)
def post_when_sprint_completes(context: SensorEvaluationContext, warehouse: WarehouseResource):
    """When the published build shows a newly closed sprint, write its card and post it. It reads the build the
    dashboard reads (DuckDB: the published snapshot), never the live file a run may be writing."""
    source = open_source(warehouse.get().target)
    if isinstance(source, EmptyWarehouse):
        return SkipReason(f"no published build yet: {source.reason}")
    try:
        fingerprint = latest_closed_sprints(source)
    except Exception as exc:  # a build without the planning marts yet
        return SkipReason(f"cannot read mv_planning_by_sprint yet: {type(exc).__name__}")
    if not fingerprint:
        return SkipReason("no closed sprint yet")
    if fingerprint == context.cursor:
        return SkipReason("no sprint completed since the last post")
    context.update_cursor(fingerprint)
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return RunRequest(run_key=f"sprint-completed-{digest}", run_config=_post_config(["sprint"]))


@schedule(cron_schedule="0 9 * * 1", job=insights_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING)
def weekly_cards(context):
    """Mondays 09:00 UTC: the weekly card of every team without sprints (last week is now complete)."""
    return RunRequest(run_config=_post_config(["week"]))


def insights_defs() -> Definitions:
    return Definitions(assets=[sprint_health, sprint_health_slack_post], jobs=[insights_job],
                       sensors=[post_when_sprint_completes], schedules=[weekly_cards],
                       resources={"llm": LlmResource(), "slack": SlackResource()})
