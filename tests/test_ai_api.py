"""`GET /ai/impact` as it runs: a real `emd api` (uvicorn) over the API warehouse (tests/fixtures/marts.py's
AI rows), over real HTTP. Values by hand from those rows (see tests/test_ai_layer.py for the arithmetic)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.fixtures.api import build_api_warehouse, running_api, write_config


def test_ai_impact_over_real_http(tmp_path: Path) -> None:
    live = build_api_warehouse(tmp_path / "warehouse.duckdb")
    env = {"DATABASE_URL": f"duckdb:///{live}", "EMD_CONFIG": str(write_config(tmp_path / "config.yaml"))}
    with running_api(tmp_path, env) as url:
        answer = requests.get(url + "/ai/impact", params={"from": "2026-03-02", "to": "2026-03-15"}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["filters"]["from"] == "2026-03-02" and body["filters"]["to"] == "2026-03-15"
        # 2 of the 5 merged PRs (102 by trailer, 201 by label).
        assert (body["ai_assisted_pr_share"], body["ai_assisted_prs"], body["merged_prs"]) == (pytest.approx(0.4), 2, 5)
        assert body["signals"] == {"coauthor_trailer": 1, "label": 1}
        cycle = body["comparison"][0]
        assert cycle["key"] == "cycle_time_p50_hours"
        assert (cycle["ai"], cycle["other"]) == ({"value": 30.0, "sample_size": 2}, {"value": 30.0, "sample_size": 3})
        assert cycle["difference"] is None and cycle["interval"] is None  # fewer than 5 AI-assisted PRs
        assert body["adoption_scope"] == "org"
        assert [d["daily_active_users"] for d in body["adoption"]] == [6, 4]
        # No per-person figure anywhere in the answer.
        assert "user_login" not in answer.text

        web = requests.get(url + "/ai/impact", params={"team": "web", "from": "2026-03-02", "to": "2026-03-15"},
                           timeout=30).json()
        assert (web["ai_assisted_pr_share"], web["adoption_scope"]) == (1.0, "teams")
        platform = requests.get(url + "/ai/impact", params={"team": "platform", "from": "2026-03-02",
                                                           "to": "2026-03-15"}, timeout=30).json()
        assert (platform["adoption"], platform["hidden_teams"]) == ([], ["platform"])

        unknown = requests.get(url + "/ai/impact", params={"team": "nosuchteam"}, timeout=30)
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["query", "team"]
        tiles = {t["key"]: t for t in requests.get(url + "/metrics/tiles", params={"from": "2026-03-02",
                                                                                   "to": "2026-03-15"},
                                                    timeout=30).json()["tiles"]}
        assert tiles["ai_assisted_pr_share"]["value"] == pytest.approx(0.4)
