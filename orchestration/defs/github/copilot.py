"""GitHub Copilot's usage-metrics reports, one UTC day at a time (config `ai.copilot: true`).

`GET {GITHUB_API_URL}/orgs/{org}/copilot/metrics/reports/organization-1-day?day=D` and `.../users-1-day?day=D`
answer `{"download_links": [...], "report_day": D}`; each link is a signed, time-limited URL of an NDJSON file
(one record a line). The files are downloaded WITHOUT the GitHub token: the links carry their own signature
and point at another host, which must never see the token.

A 404 means the organisation's "Copilot usage metrics" policy is off (or the org has no Copilot); a 403 that
the token lacks `manage_billing:copilot` or `read:org` (classic PAT) / the "Organization Copilot metrics"
read permission (fine-grained token or GitHub App). Either way the asset keeps the days it already holds,
says which setting or permission to fix (log, metadata, a failed `reports_readable` check) and does not fail,
so the rest of the pipeline runs.
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations at runtime.

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import requests
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from emd import settings
from emd.http import ApiAuthError, ApiError, ApiNotFoundError, ApiPayloadError, HttpClient, RetryPolicy
from emd.warehouse import to_json
from orchestration.defs.github.resource import GitHubClient, GitHubResource
from orchestration.defs.ingestion import INGESTION_GROUP
from orchestration.defs.raw_checks import ingest_days
from orchestration.partitions import daily_partitions, ingestion_backfill_policy
from orchestration.resources import WAREHOUSE_POOL, ProjectConfigResource, WarehouseResource

COPILOT_TABLES = {
    "raw_github_copilot_org_days": "GitHub Copilot's organization 1-day usage report: one row per day.",
    "raw_github_copilot_user_days": "Its users 1-day report: one row per user active with Copilot that day.",
}
READABLE_CHECK = "reports_readable"
COUNTS = ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count")


class CopilotReportsUnavailable(ApiError):
    """The reports cannot be read: the message names the policy or the permission to fix."""


def _ndjson(response: requests.Response) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("an NDJSON line is not an object")
    return rows


class CopilotReports:
    """Reads one day's organization and users reports through the run's GitHub client."""

    def __init__(self, client: GitHubClient, org: str, policy: RetryPolicy | None = None):
        self.client = client
        self.org = org
        # A separate session without the Authorization header: the signed links live on another host.
        self.files = HttpClient(name="GitHub Copilot report files", token_env="(signed link)",
                                policy=policy or client.http.policy, stats=client.http.stats,
                                sleep=client.http.sleep)
        self.files.session.headers.update({"User-Agent": "engineering-metrics"})

    def report(self, kind: str, day: str) -> list[dict[str, Any]]:
        """Every record of the `organization-1-day` or `users-1-day` report of `day`."""
        url = f"{self.client.api_url}/orgs/{self.org}/copilot/metrics/reports/{kind}"
        try:
            body, _headers = self.client.http.request_json("GET", url, params={"day": day})
        except ApiNotFoundError as exc:
            raise CopilotReportsUnavailable(
                f"GitHub answered 404 for the Copilot usage-metrics report of {self.org} ({url}): turn on the "
                f"organisation's \"Copilot usage metrics\" policy (Organization settings > Copilot > Policies; "
                f"in an enterprise, set it to \"Enabled everywhere\"), check `org` in the project config "
                f"({settings.config_path()}), or set `ai.copilot: false`. Pull requests are still read."
            ) from exc
        except ApiAuthError as exc:
            if "401" in str(exc):
                raise
            raise CopilotReportsUnavailable(
                f"GitHub refused the Copilot usage-metrics report of {self.org} (403 from {url}): the token in "
                f"GITHUB_TOKEN needs the `manage_billing:copilot` or `read:org` scope (classic token) or the "
                f"\"Organization Copilot metrics\" read permission (fine-grained token or GitHub App), and its "
                f"user must be an organisation owner or billing manager. Pull requests are still read."
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("download_links"), list):
            raise ApiPayloadError(f"GitHub answered {url} without `download_links`; nothing was written for {day}")
        rows: list[dict[str, Any]] = []
        for link in body["download_links"]:
            records, _ = self.files.request_json("GET", str(link), decode=_ndjson)
            rows.extend(records)
        for row in rows:
            if row.get("day") not in (None, day):
                raise ApiPayloadError(f"the Copilot {kind} report of {day} holds a record of {row.get('day')}")
        return rows

    def day_rows(self, day: str) -> dict[str, list[dict[str, Any]]]:
        org_rows = [{
            "day": date.fromisoformat(day), "organization_id": str(r.get("organization_id") or ""),
            "daily_active_users": r.get("daily_active_users"), "weekly_active_users": r.get("weekly_active_users"),
            "monthly_active_users": r.get("monthly_active_users"), **{k: r.get(k) for k in COUNTS},
            "payload": to_json(r),
        } for r in self.report("organization-1-day", day)]
        users: dict[str, dict[str, Any]] = {}
        for r in self.report("users-1-day", day):
            login = r.get("user_login")
            if not isinstance(login, str) or not login:
                raise ApiPayloadError(f"the Copilot users report of {day} holds a record without `user_login`")
            users[login.lower()] = {"day": date.fromisoformat(day), "user_login": login.lower(),
                                    "user_id": r.get("user_id"), **{k: r.get(k) for k in COUNTS},
                                    "payload": to_json(r)}
        return {"raw_github_copilot_org_days": org_rows,
                "raw_github_copilot_user_days": [users[k] for k in sorted(users)]}


@multi_asset(
    name="github_copilot_usage",
    specs=[AssetSpec(table, group_name=INGESTION_GROUP, kinds={"github"}, description=text, skippable=True)
           for table, text in COPILOT_TABLES.items()],
    check_specs=[AssetCheckSpec(READABLE_CHECK, asset="raw_github_copilot_org_days", description=(
        "GitHub answered the Copilot usage-metrics reports (fails, naming the policy or permission, on 404/403)."))],
    partitions_def=daily_partitions,
    backfill_policy=ingestion_backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def github_copilot_usage(context: AssetExecutionContext, github: GitHubResource,
                         project_config: ProjectConfigResource, warehouse: WarehouseResource
                         ) -> Iterator[MaterializeResult | AssetCheckResult]:
    """GitHub Copilot's organization and users 1-day usage reports of the day (empty when `ai.copilot` is off)."""
    config = project_config.load()
    reports = CopilotReports(github.client(), config.org) if config.ai.copilot else None
    problem = ""

    def fetch(key: str) -> dict[str, list[dict[str, Any]]]:
        if reports is None:
            return {table: [] for table in COPILOT_TABLES}
        return reports.day_rows(key)

    try:
        days = ingest_days(warehouse.get(), context.partition_keys, fetch)
    except CopilotReportsUnavailable as exc:
        problem = str(exc)
        context.log.warning(problem + " The days already stored are kept.")
        days = None
    if days is not None:  # unavailable: nothing is materialized, the stored days stay as they were
        for table in COPILOT_TABLES:
            yield MaterializeResult(asset_key=table, metadata={
                "rows": days.written.get(table, 0), "window": days.window(), "partitions": len(days.by_day),
                "copilot": config.ai.copilot, **(reports.client.stats.as_metadata() if reports else {})})
    yield AssetCheckResult(asset_key="raw_github_copilot_org_days", check_name=READABLE_CHECK, passed=not problem,
                           severity=AssetCheckSeverity.WARN, metadata={"problem": problem or "none"})
