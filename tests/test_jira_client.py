"""The Jira client against the mock over real HTTP: windows in the user's time zone, complete changelogs,
story-points field discovery, and errors that name what to fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from emd.http import ApiAuthError, ApiError, ApiPayloadError, ApiUnreachableError, RetryPolicy
from emd.settings import SettingsError
from mock_apis.jira import _jql_date
from mock_apis.jira_data import jira_data
from mock_apis.server import MockApi
from orchestration.defs.jira.ingest import fetch_issue_partition
from orchestration.defs.jira.resource import JiraClient, JiraResource, jql_window

LA = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
PROJECTS = ["API", "WEB", "DATA"]
BOARDS = [12, 23]


def _client(api: MockApi, max_retry_seconds: float = 600.0) -> JiraClient:
    # The URL and credentials come from the environment only (JiraResource has no fields for them).
    return JiraClient(api.url, api.state.jira_email, api.state.jira_token,
                      policy=RetryPolicy(max_elapsed_s=max_retry_seconds, base_delay_s=0.01))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("start,end,zone,lo,hi", [
    # A UTC day in Los Angeles (PDT, UTC-7): widened by a minute on each side.
    (_utc(2026, 3, 20), _utc(2026, 3, 21), LA, "2026-03-19 16:59", "2026-03-20 17:01"),
    # Kolkata is UTC+5:30.
    (_utc(2026, 3, 20), _utc(2026, 3, 21), KOLKATA, "2026-03-20 05:29", "2026-03-21 05:31"),
    # DST starts in LA on 2026-03-08 at 02:00 PST (10:00Z), clocks jump to 03:00 PDT. 03:00 - 1 minute = 02:59
    # does not exist and may be read as 10:59Z (as PST), after the start; stepping back, "02:00" reads as
    # 10:00Z (PST) or 09:00Z (PDT), both at or before the start.
    (_utc(2026, 3, 8, 10), _utc(2026, 3, 8, 11), LA, "2026-03-08 02:00", "2026-03-08 04:01"),
    # DST ends on 2026-11-01: 01:00-01:59 happen twice (PDT 08:00-08:59Z, then PST 09:00-09:59Z).
    # start 08:30Z is the first 01:30; "01:29" may be read as the second (09:29Z, after the start), so lo
    # steps back to 00:59 (07:59Z). end 09:30Z is the second 01:30; "01:31" may be read as the first
    # (08:31Z, before the end), so hi moves on to 02:00 (10:00Z).
    (_utc(2026, 11, 1, 8, 30), _utc(2026, 11, 1, 9, 30), LA, "2026-11-01 00:59", "2026-11-01 02:00"),
])
def test_jql_window_covers_the_utc_window(start, end, zone, lo, hi) -> None:
    assert jql_window(start, end, zone) == (lo, hi)
    # Whatever reading of the wall times Jira applies (the mock's, like java.time's), the window is covered.
    assert _jql_date(lo, "updated", zone) <= start and _jql_date(hi, "updated", zone) >= end


def test_jql_window_around_every_2026_transition() -> None:
    for zone in (LA, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), KOLKATA):
        instant = _utc(2026, 1, 1)
        while instant < _utc(2027, 1, 1):
            lo, hi = jql_window(instant, instant + timedelta(hours=1), zone)
            for fold in (0, 1):  # neither reading of an ambiguous or skipped wall time may shrink the window
                low = datetime.strptime(lo, "%Y-%m-%d %H:%M").replace(tzinfo=zone, fold=fold).astimezone(UTC)
                high = datetime.strptime(hi, "%Y-%m-%d %H:%M").replace(tzinfo=zone, fold=fold).astimezone(UTC)
                assert low <= instant and high >= instant + timedelta(hours=1), (zone, instant, lo, hi)
            instant += timedelta(minutes=37)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/Los_Angeles", "UTC"])
def test_issues_land_in_their_utc_day_whatever_the_user_zone(mock_api: MockApi, zone: str) -> None:
    mock_api.state.jira_timezone = zone
    data = jira_data(mock_api.state.org)
    client = _client(mock_api)
    # An issue last updated in the early UTC hours (02:00-ish): the previous local day in Los Angeles.
    early = min((i for i in data.issues if i.updated.hour < 4 and i.updated.date().day > 1),
                key=lambda i: abs(i.updated.hour * 60 + i.updated.minute - 120))
    day = datetime.combine(early.updated.date(), datetime.min.time(), tzinfo=UTC)
    for start in (day - timedelta(days=1), day, day + timedelta(days=1)):
        batch = client.issues_updated_between(PROJECTS, start, start + timedelta(days=1))
        keys = {i["key"] for i in batch.issues}
        expected = {i.key for i in data.issues_updated_between(start, start + timedelta(days=1))}
        assert keys == expected  # exactly the issues whose `updated` is in the UTC day
        assert (early.key in keys) == (start == day)
    assert batch.time_zone == zone


def test_dst_day_in_los_angeles(mock_api: MockApi) -> None:
    # 2026-03-08 has 23 hours in Los Angeles; the UTC day must still be complete and exact.
    data = jira_data(mock_api.state.org)
    client = _client(mock_api)
    for day in (_utc(2026, 3, 7), _utc(2026, 3, 8), _utc(2026, 3, 9)):
        batch = client.issues_updated_between(PROJECTS, day, day + timedelta(days=1))
        assert {i["key"] for i in batch.issues} == {i.key for i in data.issues_updated_between(
            day, day + timedelta(days=1))}


def test_search_pages_past_a_hundred_issues_and_never_uses_the_removed_endpoint(mock_api: MockApi) -> None:
    data = jira_data(mock_api.state.org)
    client = _client(mock_api)
    keys = [i["key"] for i in client.search("project in (API, WEB, DATA) ORDER BY key ASC", ["updated"])]
    assert len(keys) == len(set(keys)) == len(data.issues) > 300
    counts = requests.get(mock_api.url + "/_mock/counts", timeout=10).json()
    assert counts["jira:search"] == -(-len(data.issues) // 100)
    assert "jira:search_removed" not in counts


def test_complete_changelog_of_an_issue_longer_than_any_page(mock_api: MockApi) -> None:
    data = jira_data(mock_api.state.org)
    client = _client(mock_api)
    longest = max(data.issues, key=lambda i: len(i.histories))
    expected = [str(h.id) for h in longest.histories]
    assert len(expected) > 100
    assert [h["id"] for h in client.issue_changelog(longest.key)] == expected
    others = [i for i in data.issues if len(i.histories) > 5][:3]
    bulk = client.changelogs([str(longest.id)] + [str(i.id) for i in others], page_size=7)
    assert [h["id"] for h in bulk[str(longest.id)]] == expected
    for issue in others:
        assert [h["id"] for h in bulk[str(issue.id)]] == [str(h.id) for h in issue.histories]
    # Through the window method: the search embeds 40 histories; the client completes the rest.
    day = datetime.combine(longest.updated.date(), datetime.min.time(), tzinfo=UTC)
    batch = client.issues_updated_between(PROJECTS, day, day + timedelta(days=1))
    got = next(i for i in batch.issues if i["key"] == longest.key)
    assert got["changelog"]["total"] == len(expected) and len(got["changelog"]["histories"]) == 40
    assert [h["id"] for h in batch.histories[got["id"]]] == expected
    assert batch.completed_changelogs >= 1


def test_story_points_field_from_the_board_configuration(mock_api: MockApi) -> None:
    client = _client(mock_api)
    found = client.story_points_fields(PROJECTS, BOARDS)
    assert found.by_project == {"API": "customfield_10016", "WEB": "customfield_10016", "DATA": "customfield_10016"}
    assert found.source["API"] == "board 12 estimation" and found.source["WEB"] == "board 23 estimation"
    assert found.source["DATA"] == "field named 'Story point estimate'"  # the data team has no board


@pytest.mark.parametrize("estimation", ["issueCount", "none"])
def test_story_points_field_by_name_when_boards_do_not_say(mock_api: MockApi, estimation: str) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"jira_board_estimation": estimation}, timeout=10)
    found = _client(mock_api).story_points_fields(PROJECTS, BOARDS)
    # Both "Story point estimate" (customfield_10016) and "Story Points" (customfield_10026) exist;
    # the former is preferred.
    assert set(found.by_project.values()) == {"customfield_10016"}
    assert set(found.source.values()) == {"field named 'Story point estimate'"}


def test_story_points_field_from_the_config_overrides_discovery(mock_api: MockApi) -> None:
    client = _client(mock_api)
    partition = fetch_issue_partition(client, PROJECTS, BOARDS, "customfield_10026", _utc(2026, 3, 31),
                                      _utc(2026, 4, 1))
    counts = requests.get(mock_api.url + "/_mock/counts", timeout=10).json()
    assert "jira:board_configuration" not in counts
    issues = partition.rows["raw_jira_issues"]
    assert issues and {r["story_points_field"] for r in issues} == {"customfield_10026"}
    assert all(r["story_points"] is None for r in issues)  # that field is not used on this site
    fields = {r["field"] for r in partition.rows["raw_jira_changelog"]}
    assert "story_points" not in fields and "Story point estimate" in fields  # not the field in use: Jira's name


def test_missing_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net")
    monkeypatch.delenv("JIRA_EMAIL", raising=False)
    monkeypatch.delenv("JIRA_API_TOKEN", raising=False)
    with pytest.raises(SettingsError, match=r"^JIRA_EMAIL, JIRA_API_TOKEN are not set"):
        JiraResource().client()
    monkeypatch.setenv("JIRA_EMAIL", "me@acme.example")
    monkeypatch.setenv("JIRA_API_TOKEN", "x")
    monkeypatch.delenv("JIRA_BASE_URL")
    with pytest.raises(SettingsError, match=r"^JIRA_BASE_URL is not set"):
        JiraResource().client()


def test_bad_token_names_the_variables_and_the_url(mock_api: MockApi) -> None:
    client = JiraClient(mock_api.url, mock_api.state.jira_email, "revoked")
    with pytest.raises(ApiAuthError) as info:
        client.myself()
    message = str(info.value)
    assert "JIRA_EMAIL/JIRA_API_TOKEN" in message and f"{mock_api.url}/rest/api/3/myself" in message
    assert "revoked" not in message


def test_unreachable_url_is_named() -> None:
    with socket_closed_port() as url:
        client = JiraClient(url, "me@acme.example", "x", policy=RetryPolicy(max_elapsed_s=0.5, base_delay_s=0.01))
        with pytest.raises(ApiUnreachableError, match=rf"{url}/rest/api/3/myself"):
            client.myself()


@pytest.mark.parametrize("bug,message", [
    ("issue_without_updated", r"Jira issue [A-Z]+-\d+: field `fields.updated` is missing"),
    ("status_without_category", r"Jira issue [A-Z]+-\d+: field `fields.status.statusCategory.key` is missing"),
])
def test_unexpected_issue_payload_names_entity_and_field(mock_api: MockApi, bug: str, message: str) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"jira_payload_bug": bug}, timeout=10)
    with pytest.raises(ApiPayloadError, match=message):
        _client(mock_api).issues_updated_between(PROJECTS, _utc(2026, 3, 20), _utc(2026, 3, 21))


def test_unexpected_status_payload_names_entity_and_field(mock_api: MockApi) -> None:
    requests.post(mock_api.url + "/_mock/switch", json={"jira_payload_bug": "status_without_category"}, timeout=10)
    with pytest.raises(ApiPayloadError, match=r"Jira status 10000 .*field `statusCategory.key`"):
        _client(mock_api).statuses()


class socket_closed_port:
    """A loopback URL on a port nothing listens on (bound, then closed)."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        return None


def test_wrong_project_or_board_in_the_config_is_named(mock_api: MockApi) -> None:
    client = _client(mock_api)
    with pytest.raises(ApiError, match=r"jira.projects \[API, NOPE\].*The value 'NOPE' does not exist"):
        client.issues_updated_between(["API", "NOPE"], _utc(2026, 3, 20), _utc(2026, 3, 21))
    with pytest.raises(ApiError, match=r"Jira board 999 \(listed under jira.boards in the project config\)"):
        client.story_points_fields(["API"], [12, 999])
    with pytest.raises(ApiError, match=r"Jira board 999 "):
        client.sprints(999)


def test_raw_rows_roll_back_to_creation_values(mock_api: MockApi) -> None:
    """Every day of the org's range, as raw rows; rolling each issue's current values back through its
    normalized changelog rows gives the values it was created with (the mock's record of them)."""
    mock_api.state.jira_timezone = "Asia/Kolkata"
    org = mock_api.state.org
    data = jira_data(org)
    client = _client(mock_api)
    issues: dict[str, dict] = {}
    changes: dict[str, list[dict]] = {}
    day = org.start_dt
    while day < org.end_dt:
        partition = fetch_issue_partition(client, PROJECTS, BOARDS, None, day, day + timedelta(days=1))
        for row in partition.rows["raw_jira_issues"]:
            assert row["key"] not in issues  # each issue is in the partition of its last update only
            issues[row["key"]] = row
        for row in partition.rows["raw_jira_changelog"]:
            changes.setdefault(row["issue_key"], []).append(row)
        day += timedelta(days=1)
    assert set(issues) == {i.key for i in data.issues}
    for issue in data.issues:
        row = issues[issue.key]
        values = {"status": row["status_id"], "sprint": ",".join(map(str, json.loads(row["sprint_ids"]))) or None,
                  "story_points": None if row["story_points"] is None else f"{row['story_points']:g}",
                  "flagged": "true" if row["flagged"] else "false"}
        for change in sorted(changes.get(issue.key, []), key=lambda r: (r["created_at"], int(r["history_id"]),
                                                                         r["item_index"]), reverse=True):
            if change["field"] in values:
                assert values[change["field"]] == change["to_value"], (issue.key, change)
                values[change["field"]] = change["from_value"]
        initial = issue.initial
        assert values == {
            "status": initial["status"],
            "sprint": ",".join(map(str, initial["sprint_ids"])) or None,
            "story_points": None if initial["points"] is None else f"{initial['points']:g}",
            "flagged": "true" if initial["flagged"] else "false",
        }, issue.key
