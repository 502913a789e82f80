"""Definitions of the insights part of the code location: the Sprint Health card and its Slack post.

- `sprint_health` writes one card per team and completed sprint (teams without sprints: per completed
  ISO week) into the `sprint_health` table; the model is called only for blobs it has not seen.
- `sprint_health_slack_post` posts each team's latest card once, and edits that message on re-runs.
- `insights_job` runs both (what `emd pipeline` runs after the marts); `post_when_sprint_completes`
  starts it when a sprint closes; `weekly_cards` runs it on Mondays 09:00 UTC for teams without sprints.
  Materializing from the Dagster UI is the manual post.
"""


import hashlib
import json
from datetime import UTC, datetime
from typing import Any

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

from emd.warehouse import Warehouse
from orchestration.defs.insights.blob import (
    PeriodBlob,
    canonical_json,
    ingested_until,
    load_team_facts,
    metrics_hash,
    org_horizon,
    team_blobs,
)
from orchestration.defs.insights.card import PROMPT_VERSION, CardWriter, card_text, fallback_card
from orchestration.defs.insights.resources import LlmResource, SlackResource
from orchestration.defs.insights.slack_post import SlackPoster, build_message, latest_per_team
from orchestration.defs.insights.store import SprintHealthRow, read_rows, record_post, upsert_rows
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

INSIGHTS_GROUP = "insights"
# mv_dora_by_repo_day only gives the end of the ingested range (when the last week is complete).
MART_DEPS = [AssetKey("mv_planning_by_sprint"), AssetKey("fct_pull_requests"), AssetKey("fct_deployments"),
             AssetKey("mv_dora_by_repo_day")]
# A rule-based card written because the model could not be reached is retried on the next run.
UNAVAILABLE_PREFIX = "unavailable: "


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _reusable(old: SprintHealthRow | None, digest: str) -> bool:
    if old is None or old.metrics_hash != digest or old.prompt_version != PROMPT_VERSION:
        return False
    return not (old.source == "fallback" and (old.fallback_reason or "").startswith(UNAVAILABLE_PREFIX))


def collect_blobs(wh: Warehouse, team_names: list[str], now: datetime) -> list[PeriodBlob]:
    """Every team's blobs: sprint teams (any row in mv_planning_by_sprint) per closed sprint, others per week."""
    with wh.connect(read_only=wh.kind == "duckdb") as conn:
        facts = load_team_facts(conn, wh.kind)
        ingested = ingested_until(conn, wh.kind)
    horizon = org_horizon(facts, now, ingested)
    names = sorted(set(team_names) | {t for t in facts if t != "unassigned"})
    out: list[PeriodBlob] = []
    for name in names:
        team = facts.get(name)
        if team is not None:
            out += team_blobs(team, runs_sprints=bool(team.sprints), horizon=horizon)
    return out


def write_cards(wh: Warehouse, team_names: list[str], writer: CardWriter, now: datetime) -> dict[str, Any]:
    """Build every blob, reuse cached cards, write the rest; returns figures for the UI."""
    blobs = collect_blobs(wh, team_names, now)
    existing = read_rows(wh)
    rows, cache_hits, fallbacks, reasons = [], 0, 0, set()
    for item in blobs:
        p = item.period
        digest = metrics_hash(item.blob, PROMPT_VERSION, writer.model_id)
        old = existing.get((p.team, p.kind, p.period_id))
        if _reusable(old, digest):
            cache_hits += 1
            assert old is not None
            changed = old.period_name != p.name
            old.period_name = p.name
            if old.source == "fallback":
                # No model call either way; the rules may have improved since, and they cost nothing to re-run.
                card = fallback_card(item.blob)
                if json.dumps(card, ensure_ascii=False) != old.card_json:
                    old.card_json, old.card_text = json.dumps(card, ensure_ascii=False), card_text(card, "fallback")
                    changed = True
            if changed:
                rows.append(old)
            continue
        result = writer.write(item.blob)
        reason = result.fallback_reason
        if reason is not None and not result.cacheable:
            reason = UNAVAILABLE_PREFIX + reason
        if result.source == "fallback":
            fallbacks += 1
            reasons.add(reason or "")
        rows.append(SprintHealthRow(
            team=p.team, period_kind=p.kind, period_id=p.period_id, period_name=p.name, period_start=p.start,
            period_end=p.end, metrics_json=canonical_json(item.blob), metrics_hash=digest,
            prompt_version=PROMPT_VERSION, model=result.model, source=result.source,
            card_json=json.dumps(result.card, ensure_ascii=False), card_text=card_text(result.card, result.source),
            tokens_used=result.tokens_used, slack_channel=None, slack_ts=None, slack_message_json=None,
            generated_at=now, posted_at=None, fallback_reason=reason,
        ))
    # Cards of periods that no longer exist (a deleted sprint) go, unless the marts came back empty.
    keep = {(b.period.team, b.period.kind, b.period.period_id) for b in blobs}
    upsert_rows(wh, rows, keep_only=keep or None)
    generated = len(blobs) - cache_hits
    return {
        "cards_total": len(blobs),
        "cards_written": generated,
        "cache_hits": cache_hits,
        "model_calls": writer.calls,
        "llm_tokens": writer.tokens,
        "tokens_per_generated_card": round(writer.tokens / generated, 1) if generated else 0.0,
        "fallback_cards": fallbacks,
        "fallback_reasons": "; ".join(sorted(reasons)) or "none",
        "model": writer.model_id,
        "prompt_version": PROMPT_VERSION,
        "teams": len({b.period.team for b in blobs}),
    }


@asset(
    name="sprint_health",
    group_name=INSIGHTS_GROUP,
    kinds={"python", "openai"},
    deps=MART_DEPS,
    pool=WAREHOUSE_POOL,
    description="One Sprint Health card per team and completed sprint (or ISO week for teams without sprints).",
)
def sprint_health(context: AssetExecutionContext, project_config: ProjectConfigResource,
                  warehouse: WarehouseResource, llm: LlmResource) -> MaterializeResult:
    """Metrics blob -> model (or the rule-based card) -> the `sprint_health` table; cached by blob hash."""
    config = project_config.load()
    wh = warehouse.get()
    writer = CardWriter(llm.settings())
    figures = write_cards(wh, [t.name for t in config.teams], writer, _now())
    context.log.info(f"sprint_health: {figures['cards_written']} cards written, {figures['cache_hits']} cached, "
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
    latest = latest_per_team(list(read_rows(wh).values()), tuple(config.period_kinds))
    poster = SlackPoster(target)
    poster.check_auth()
    actions = {"posted": 0, "updated": 0}
    lines = []
    for row in latest:
        message = build_message(row, dashboard_url)
        channel, ts, action = poster.publish(message, row.slack_channel, row.slack_ts)
        # Recorded right away, so a failure on a later team never causes a duplicate for this one.
        record_post(wh, row.key, channel, ts, json.dumps(message, ensure_ascii=False), _now())
        actions[action] += 1
        lines.append(f"| {row.team} | {row.period_name} | {action} |")
    table = "| team | period | action |\n|---|---|---|\n" + "\n".join(lines)
    return MaterializeResult(metadata={
        **actions, "slack_api_calls": poster.calls, "channel": target.channel, "messages": MetadataValue.md(table)})


insights_job = define_asset_job(
    "insights_job",
    # The dashboard snapshot is republished so the dashboard shows the new cards.
    selection=AssetSelection.assets(sprint_health, sprint_health_slack_post) | AssetSelection.groups("serving"),
    description="Write the Sprint Health cards, post each team's latest one to Slack, republish the dashboard.",
    tags={"emd/serial": "insights"},  # one at a time (dagster.yaml), so a card is never posted twice
)


def _post_config(kinds: list[str]) -> dict:
    return {"ops": {"sprint_health_slack_post": {"config": {"period_kinds": kinds}}}}


def latest_closed_sprints(wh: Warehouse) -> str:
    """A fingerprint of each team's latest closed sprint; it changes when a sprint completes."""
    rows = wh.query(
        "select team, sprint_id, coalesce(completed_at, end_at) from mv_planning_by_sprint where state = 'closed'"
    )
    latest: dict[str, tuple] = {}
    for team, sprint_id, ended in rows:
        if ended is not None and (team not in latest or (ended, str(sprint_id)) > latest[team]):
            latest[team] = (ended, str(sprint_id))
    return ",".join(f"{team}:{latest[team][1]}" for team in sorted(latest, key=str))


@sensor(job=insights_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=300)
def post_when_sprint_completes(context: SensorEvaluationContext, warehouse: WarehouseResource):
    """When the marts show a newly closed sprint, write its card and post it."""
    try:
        fingerprint = latest_closed_sprints(warehouse.get())
    except Exception as exc:  # marts not built yet, or the warehouse is busy being written
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
