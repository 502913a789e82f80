"""A monorepo shared by three teams (docs/metrics.md Conventions "Team"), served by the mock GitHub API; the
values are worked out by hand in tests/test_team_split.py.

Teams: platform owns acme/mono; web owns acme/svc and /web/ in mono's CODEOWNERS; data owns no repo, only
/data/ in mono's CODEOWNERS. Every repo deploys on merge (one deployment per merged PR, at merged_at).

acme/mono CODEOWNERS:   *  @acme/platform-team   /web/  @acme/web-team   /data/  @acme/data-team
  mono#1 web/app.ts 50+10            merged 03-02 10:00, first commit 08:00 -> PR team web,      deployment D1
  mono#2 data/etl.py 30+0            merged 03-03 10:00, first commit 04:00 -> PR team data,     deployment D2
  mono#3 lib/core.py 10+0            merged 03-03 15:00, first commit 14:00 -> PR team platform, deployment D3
  mono#4 `Revert "Change 1"` (head revert-1-web) web/app.ts 10+50
                                     merged 03-04 11:00, first commit 10:00 -> PR team web,      deployment D4
acme/svc (no CODEOWNERS):
  svc#1 src/main.go 5+1              merged 03-05 09:00, first commit 07:00 -> web,               deployment E1
  svc#2 head hotfix/crash 2+1        merged 03-05 12:00, first commit 11:00 -> web (a hotfix),    deployment E2
"""

from __future__ import annotations

from typing import Any

from dbt_fixtures.sources_scenario import pull_request, repository
from mock_apis.github_data import GitHubData

START_DAY, END_DAY = "2026-03-02", "2026-03-06"
CODEOWNERS = """*        @acme/platform-team
/web/    @acme/web-team
/data/   @acme/data-team
"""


def config() -> dict[str, Any]:
    return {
        "org": "acme",
        "github": {"repos": ["acme/mono", "acme/svc"]},
        "teams": {
            "platform": {"repos": ["acme/mono"], "members": ["alice"], "github_teams": ["@acme/platform-team"]},
            "web": {"repos": ["acme/svc"], "members": ["bob"], "github_teams": ["@acme/web-team"]},
            "data": {"members": ["carol"], "github_teams": ["@acme/data-team"]},
        },
        "deployments": {"source": "merge"},
    }


def github() -> GitHubData:
    mono = repository("acme/mono", {".github/CODEOWNERS": CODEOWNERS})
    svc = repository("acme/svc")
    data = GitHubData(repos={"acme/mono": mono, "acme/svc": svc})
    prs = [
        pull_request(mono, 1, "bob", "03-02 09:00", "03-02 10:00", "03-02 08:00", [("web/app.ts", 50, 10)]),
        pull_request(mono, 2, "carol", "03-03 05:00", "03-03 10:00", "03-03 04:00", [("data/etl.py", 30, 0)]),
        pull_request(mono, 3, "alice", "03-03 14:30", "03-03 15:00", "03-03 14:00", [("lib/core.py", 10, 0)]),
        pull_request(mono, 4, "bob", "03-04 10:30", "03-04 11:00", "03-04 10:00", [("web/app.ts", 10, 50)],
                     title='Revert "Change 1"', head="revert-1-web"),
        pull_request(svc, 1, "bob", "03-05 08:00", "03-05 09:00", "03-05 07:00", [("src/main.go", 5, 1)]),
        pull_request(svc, 2, "bob", "03-05 11:30", "03-05 12:00", "03-05 11:00", [("src/main.go", 2, 1)],
                     head="hotfix/crash"),
    ]
    for pr in prs:
        pr["repository"]["_prs"].append(pr)
        data.nodes[pr["id"]] = pr
    data.pull_requests = sorted(prs, key=lambda p: (p["_updated"], p["_repo"], p["number"]))
    return data
