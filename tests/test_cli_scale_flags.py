"""`emd mock-api --days N --rate-limit N` (issue 22: the figures at 45/180/365 days and a paced backfill can
be reproduced from the command line), through the real command and real HTTP; bad values are refused with
the flag's name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from orchestration.cli import build_parser

EMD = Path(sys.executable).parent / "emd"


def test_mock_api_serves_the_days_and_the_budget_asked_for() -> None:
    proc = subprocess.Popen([str(EMD), "mock-api", "--port", "0", "--anchor", "2026-03-31", "--days", "3",
                             "--rate-limit", "40"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        # 3 days ending at the anchor: 2026-03-29, 2026-03-30, 2026-03-31.
        assert "2026-03-29..2026-03-31" in banner, banner
        url = banner.rsplit(" on ", 1)[1].strip()
        query = {"query": "{ rateLimit { cost limit remaining } }"}
        headers = {"Authorization": "bearer mock-github-token"}
        answers = [requests.post(f"{url}/graphql", json=query, headers=headers, timeout=60) for _ in range(41)]
        first = answers[0].json()["data"]["rateLimit"]
        assert (first["limit"], first["remaining"]) == (40, 39)  # a rateLimit-only query costs 1 point
        assert answers[0].headers["x-ratelimit-limit"] == "40"
        assert [a.status_code for a in answers[39:]] == [200, 403]  # the 40th point is the last; then refused
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_flags_parse_and_bad_values_name_the_flag(capsys) -> None:
    args = build_parser().parse_args(["pipeline", "--synthetic", "--days", "180", "--rate-limit", "900",
                                      "--full-refresh"])
    assert (args.days, args.rate_limit, args.full_refresh) == (180, 900, True)
    defaults = build_parser().parse_args(["pipeline"])
    assert (defaults.days, defaults.rate_limit, defaults.full_refresh) == (45, 5000, False)
    try:
        build_parser().parse_args(["mock-api", "--days", "0"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "--days: '0' is not a whole number of at least 1" in capsys.readouterr().err
