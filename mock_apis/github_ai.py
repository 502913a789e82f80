"""AI-assisted work in the mock GitHub: GitHub Copilot's usage-metrics reports (REST + NDJSON downloads) and
the synthetic org's AI annotations (agent-authored PRs, `Co-authored-by:` trailers, `ai-assisted` labels).

Reports, as GitHub documents them (REST "Copilot usage metrics", 2026):
- `GET /orgs/{org}/copilot/metrics/reports/organization-1-day?day=YYYY-MM-DD` and
  `GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD` (also under `/api/v3`) answer
  `{"download_links": [...], "report_day": "YYYY-MM-DD"}`; the links are signed, time-limited URLs on
  another host that need no GitHub token, each serving newline-delimited JSON (one record a line).
- Organization record: `day`, `organization_id`, `daily_active_users`, `weekly_active_users`,
  `monthly_active_users`, `monthly_active_chat_users`, `monthly_active_agent_users`,
  `user_initiated_interaction_count`, `code_generation_activity_count`, `code_acceptance_activity_count`,
  `loc_suggested_to_add_sum`, `loc_suggested_to_delete_sum`, `loc_added_sum`, `loc_deleted_sum`,
  `totals_by_feature`, `totals_by_ide`.
- User record: `day`, `organization_id`, `user_id`, `user_login`, `user_initiated_interaction_count`,
  `code_generation_activity_count`, `code_acceptance_activity_count`, the same `loc_*` sums, `used_agent`,
  `used_chat`, `totals_by_feature`, `totals_by_ide`. Only users with activity that day have a record.
- `Authorization: bearer|token <token>` else 401; switch `copilot_metrics`: `"policy_disabled"` answers 404
  (the "Copilot usage metrics" policy is off), `"forbidden"` answers 403 (the token lacks
  `manage_billing:copilot` / `read:org`). A day outside the synthetic range has no files (`download_links: []`).

Annotations (`annotate`, called once when the org's GitHub data is generated) draw from their own random
stream (`org.rng("github:ai")`), so every other generated value stays what it was: a few human PRs become
coding-agent PRs (author `copilot-swe-agent` or `devin-ai-integration`, GraphQL's bare Bot logins), some
commits gain a `Co-authored-by:` trailer naming an assistant (and a few name a human co-author, which must
not count), and some PRs gain the `ai-assisted` label.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mock_apis.org import SyntheticOrg

if TYPE_CHECKING:
    from mock_apis.github_data import GitHubData
    from mock_apis.server import MockState, Request, Response, Router

AGENT_LOGINS = ("copilot-swe-agent", "devin-ai-integration")
AI_TRAILERS = (
    "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
    "Co-Authored-By: Claude <noreply@anthropic.com>",
    "Co-authored-by: Cursor Agent <cursoragent@cursor.com>",
)
AI_LABEL = "ai-assisted"
DOCS = "https://docs.github.com/rest/copilot/copilot-usage-metrics"
REPORTS = {"organization-1-day": "organization", "users-1-day": "users"}


# -- annotations ------------------------------------------------------------------------------------------
def annotate(data: GitHubData, org: SyntheticOrg) -> None:
    """Add the org's AI signals to its generated PRs, in place (deterministic, own random stream)."""
    from mock_apis.github_data import node_id  # noqa: PLC0415 - github_data imports this module

    rng = org.rng("github:ai")
    for pr in data.pull_requests:
        human = pr["author"]["__typename"] == "User"
        roll = rng.random()
        if human and roll < 0.04 and pr["headRefName"].startswith(("feat/", "chore/")):
            login = AGENT_LOGINS[int(rng.random() * len(AGENT_LOGINS))]
            agent = {"__typename": "Bot", "login": login, "id": node_id("BOT", login),
                     "url": f"https://github.com/apps/{login}"}
            human_login = pr["author"]["login"]
            pr["author"], pr["authorAssociation"] = agent, "NONE"
            pr["headRefName"] = f"{login.split('-')[0]}/{pr['headRefName'].split('/', 1)[1]}"
            for event in pr["_timeline"]:
                if (event.get("actor") or {}).get("login") == human_login:
                    event["actor"] = agent
            for commit in pr["_commits"]:
                author = commit["commit"]["author"]
                author.update({"name": login, "email": f"{login}[bot]@users.noreply.github.com", "user": None})
        elif human and pr["_commits"]:
            trailer_roll = rng.random()
            commit = pr["_commits"][int(rng.random() * len(pr["_commits"]))]["commit"]
            if trailer_roll < 0.15:
                commit["message"] += "\n\n" + AI_TRAILERS[int(rng.random() * len(AI_TRAILERS))]
            elif trailer_roll < 0.20:  # a human pair: a trailer that is no assistant
                who = org.people[int(rng.random() * len(org.people))]
                commit["message"] += f"\n\nCo-authored-by: {who.display_name} <{who.login}@users.noreply.github.com>"
        if human and rng.random() < 0.05:
            repo = pr["_repo"]
            pr["_labels"].append({"__typename": "Label", "id": node_id("LA", repo, AI_LABEL), "name": AI_LABEL,
                                  "color": "8250df"})


# -- Copilot usage reports ----------------------------------------------------------------------------------
def _organization_id(org: SyntheticOrg) -> str:
    return str(int(hashlib.blake2b(org.org.encode(), digest_size=3).hexdigest(), 16))


@functools.lru_cache(maxsize=4)
def _user_days(seed: int, scale: str, anchor: str, days: int) -> dict[str, list[dict[str, Any]]]:
    org = SyntheticOrg(seed=seed, scale=scale, anchor=date.fromisoformat(anchor), days=days)
    rng = org.rng("copilot")
    licensed = [p for p in org.people if rng.random() < 0.6]
    out: dict[str, list[dict[str, Any]]] = {}
    org_id = _organization_id(org)
    for offset in range(org.days):
        day = org.start + timedelta(days=offset)
        weekend = day.weekday() >= 5
        rows = []
        for index, person in enumerate(licensed):
            if rng.random() >= (0.1 if weekend else 0.75):
                continue
            generated = rng.randint(0, 60)
            accepted = int(generated * rng.uniform(0.2, 0.5))
            chats = rng.randint(0, 12)
            suggested_add = generated * rng.randint(2, 6)
            added = int(suggested_add * rng.uniform(0.3, 0.7))
            deleted = rng.randint(0, added // 3 + 1)
            feature = {"feature": "code_completion", "user_initiated_interaction_count": 0,
                       "code_generation_activity_count": generated, "code_acceptance_activity_count": accepted,
                       "loc_suggested_to_add_sum": suggested_add, "loc_suggested_to_delete_sum": 0,
                       "loc_added_sum": added, "loc_deleted_sum": deleted}
            rows.append({
                "day": day.isoformat(), "organization_id": org_id, "enterprise_id": None,
                "user_id": 5_000_000 + index, "user_login": person.login,
                "user_initiated_interaction_count": chats, "code_generation_activity_count": generated,
                "code_acceptance_activity_count": accepted, "loc_suggested_to_add_sum": suggested_add,
                "loc_suggested_to_delete_sum": 0, "loc_added_sum": added, "loc_deleted_sum": deleted,
                "used_agent": rng.random() < 0.2, "used_chat": chats > 0,
                "totals_by_feature": [feature],
                "totals_by_ide": [{"ide": "vscode", "code_generation_activity_count": generated,
                                   "code_acceptance_activity_count": accepted}],
            })
        out[day.isoformat()] = rows
    return out


def user_report(org: SyntheticOrg, day: str) -> list[dict[str, Any]]:
    """The users 1-day report's records for `day` (empty outside the org's range)."""
    return _user_days(org.seed, org.scale, org.anchor.isoformat(), org.days).get(day, [])


def organization_report(org: SyntheticOrg, day: str) -> list[dict[str, Any]]:
    """The organization 1-day report's one record for `day` (none outside the org's range)."""
    rows = user_report(org, day)
    if day not in _user_days(org.seed, org.scale, org.anchor.isoformat(), org.days):
        return []
    when = date.fromisoformat(day)

    def active(span: int) -> set[str]:
        return {r["user_login"] for k in range(span)
                for r in user_report(org, (when - timedelta(days=k)).isoformat())}

    def total(name: str) -> int:
        return sum(int(r[name]) for r in rows)

    month = [r for k in range(28) for r in user_report(org, (when - timedelta(days=k)).isoformat())]
    return [{
        "day": day, "organization_id": _organization_id(org), "enterprise_id": None,
        "daily_active_users": len(rows), "weekly_active_users": len(active(7)),
        "monthly_active_users": len(active(28)),
        "monthly_active_chat_users": len({r["user_login"] for r in month if r["used_chat"]}),
        "monthly_active_agent_users": len({r["user_login"] for r in month if r["used_agent"]}),
        **{name: total(name) for name in ("user_initiated_interaction_count", "code_generation_activity_count",
                                          "code_acceptance_activity_count", "loc_suggested_to_add_sum",
                                          "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum")},
        "totals_by_feature": [{"feature": "code_completion",
                               "code_generation_activity_count": total("code_generation_activity_count"),
                               "code_acceptance_activity_count": total("code_acceptance_activity_count")}],
        "totals_by_ide": [{"ide": "vscode", "code_generation_activity_count": total("code_generation_activity_count"),
                           "code_acceptance_activity_count": total("code_acceptance_activity_count")}],
    }]


def _signature(org: SyntheticOrg, kind: str, day: str) -> str:
    return hashlib.blake2b(f"{org.seed}:{kind}:{day}".encode(), digest_size=8).hexdigest()


def register(router: Router, state: MockState) -> None:
    from mock_apis.github_app import authorized  # noqa: PLC0415
    from mock_apis.server import Response  # noqa: PLC0415

    def report(req: Request, m: re.Match[str]) -> Response:
        kind = REPORTS[m["report"]]
        state.count(f"github:copilot:{kind}")
        if not authorized(req, state):
            return Response(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
        mode = state.switches.get("copilot_metrics")
        if mode == "forbidden":
            return Response(403, {"message": "Resource not accessible by personal access token",
                                  "documentation_url": DOCS, "status": "403"},
                            {"X-Accepted-OAuth-Scopes": "manage_billing:copilot, read:org, read:enterprise"})
        if mode == "policy_disabled" or m["org"].lower() != state.org.org.lower():
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        day = req.arg("day") or ""
        try:
            date.fromisoformat(day)
        except ValueError:
            return Response(422, {"message": f"Invalid day: {day!r} (YYYY-MM-DD)", "documentation_url": DOCS,
                                  "status": "422"})
        rows = user_report(state.org, day) if kind == "users" else organization_report(state.org, day)
        host = req.headers.get("host", "127.0.0.1")
        links = [f"http://{host}/copilot-reports/{m['org']}/{kind}/{day}.ndjson?sig={_signature(state.org, kind, day)}"
                 ] if rows or (kind == "users" and organization_report(state.org, day)) else []
        return Response(200, {"download_links": links, "report_day": day})

    def download(req: Request, m: re.Match[str]) -> Response:
        state.count("github:copilot:download")
        kind, day = m["kind"], m["day"]
        if req.headers.get("authorization"):
            state.count("github:copilot:download_with_authorization")  # a token sent to the file host
        if req.arg("sig") != _signature(state.org, kind, day):
            return Response(403, "<Error><Code>AuthenticationFailed</Code></Error>", {"Content-Type": "application/xml"})
        rows = user_report(state.org, day) if kind == "users" else organization_report(state.org, day)
        body = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
        return Response(200, body, {"Content-Type": "application/x-ndjson"})

    for prefix in ("", "/api/v3"):
        router.add("GET", prefix + r"/orgs/(?P<org>[^/]+)/copilot/metrics/reports/(?P<report>organization-1-day|users-1-day)",
                   report)
    router.add("GET", r"/copilot-reports/(?P<org>[^/]+)/(?P<kind>organization|users)/(?P<day>\d{4}-\d{2}-\d{2})\.ndjson",
               download)
