"""AI-assisted work benchmark: GitHub requests per 1,000 PRs with AI detection on (commit messages fetched with
the commits) against the same searches without `message`, and the Copilot reports' ingestion per day.

The mock GitHub (`--scale large`, in this process) serves both; requests are counted by the mock
(`/_mock/counts`), so retries and nested pages count as GitHub would bill them.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import requests

ANCHOR = date(2026, 3, 31)
DAYS = 3
COPILOT_DAYS = 7


def _graphql(url: str) -> int:
    return int(requests.get(url + "/_mock/counts", timeout=30).json().get("github:graphql", 0))


def main() -> None:
    from mock_apis.org import SyntheticOrg
    from mock_apis.server import MockApi, MockState
    from orchestration.defs.github import queries
    from orchestration.defs.github.copilot import CopilotReports
    from orchestration.defs.github.resource import GitHubClient

    org = SyntheticOrg(seed=7, scale="large", anchor=ANCHOR)
    repos = [r.full_name for r in org.repos]
    with MockApi(MockState(org=org)) as api:
        env = api.env()
        figures: dict[str, tuple[int, int]] = {}
        with_message = (queries.SEARCH_PULL_REQUESTS, dict(queries.NESTED_PAGE_QUERIES))
        for label in ("without commit messages", "with commit messages (AI detection on)"):
            if label.startswith("without"):
                queries.SEARCH_PULL_REQUESTS = with_message[0].replace("    message\n", "")
                queries.NESTED_PAGE_QUERIES.update({k: v.replace("    message\n", "")
                                                    for k, v in with_message[1].items()})
            else:
                queries.SEARCH_PULL_REQUESTS = with_message[0]
                queries.NESTED_PAGE_QUERIES.update(with_message[1])
            client = GitHubClient(env["GITHUB_TOKEN"], env["GITHUB_API_URL"])
            before = _graphql(api.url)
            prs = 0
            for offset in range(DAYS):
                start = datetime.combine(ANCHOR - timedelta(days=offset + 1), datetime.min.time(), tzinfo=UTC)
                prs += len(client.pull_requests_updated_between(repos, start, start + timedelta(days=1)))
            figures[label] = (_graphql(api.url) - before, prs)
        for label, (spent, prs) in figures.items():
            print(f"{label}: {spent} GraphQL requests for {prs} PRs = {1000 * spent / max(prs, 1):.2f} per 1,000 PRs")
        (base, base_prs), (ai, ai_prs) = figures.values()
        print(f"difference: {1000 * ai / max(ai_prs, 1) - 1000 * base / max(base_prs, 1):+.2f} requests per 1,000 PRs "
              "(budget: +3)")

        reports = CopilotReports(GitHubClient(env["GITHUB_TOKEN"], env["GITHUB_API_URL"]), org.org)
        began = time.monotonic()
        rows = 0
        for offset in range(COPILOT_DAYS):
            day = (ANCHOR - timedelta(days=offset)).isoformat()
            rows += sum(len(v) for v in reports.day_rows(day).values())
        took = time.monotonic() - began
        print(f"Copilot reports: {COPILOT_DAYS} days, {rows} rows, {reports.client.stats.requests / COPILOT_DAYS:.1f} "
              f"requests per day (2 reports + their NDJSON files), {1000 * took / COPILOT_DAYS:.0f} ms per day "
              f"({len(org.people)} people)")
