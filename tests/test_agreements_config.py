"""`working_agreements` in the project config: validation names the key; the rules reach dbt as --vars."""

from __future__ import annotations

from pathlib import Path

import pytest

from emd.config import ConfigError, WorkingHours, load_config, parse_config
from orchestration.defs.dbt.project import dbt_vars

BASE = {"org": "acme", "github": {"repos": ["acme/api"]}, "teams": {"platform": {"repos": ["acme/api"]}}}


def parse(agreements: object):
    return parse_config({**BASE, "working_agreements": agreements}, Path("config.yaml"))


def test_example_config_documents_every_rule() -> None:
    config = load_config(Path(__file__).parents[1] / "config.example.yaml")
    platform = config.agreement_of("platform")
    assert platform is not None
    assert set(platform.rules) | set(platform.proposed) == {
        "first_review_within_hours", "pr_open_max_days", "pr_size_max_lines", "blocked_max_days", "wip_max_issues",
        "sprint_scope_change_max_pct"}
    assert platform.working_hours == WorkingHours("Europe/Berlin", (1, 2, 3, 4, 5), 9 * 60, 17 * 60)
    assert platform.proposed == {"wip_max_issues": 4.0} and platform.mention_authors is False


def test_rules_and_working_hours_become_dbt_vars() -> None:
    config = parse({"platform": {"first_review_within_hours": 8, "proposed": {"wip_max_issues": 3},
                                 "working_hours": {"timezone": "Asia/Kolkata", "days": ["Mon", "sat"],
                                                   "start": "09:30", "end": "24:00"}}})
    variables = dbt_vars(config)
    assert variables["working_agreements"] == [
        {"team": "platform", "rule": "first_review_within_hours", "threshold": 8.0, "is_proposed": False},
        {"team": "platform", "rule": "wip_max_issues", "threshold": 3.0, "is_proposed": True}]
    assert variables["working_hours"] == [
        {"team": "platform", "timezone": "Asia/Kolkata", "iso_weekday": 1, "start_minute": 570, "end_minute": 1440},
        {"team": "platform", "timezone": "Asia/Kolkata", "iso_weekday": 6, "start_minute": 570, "end_minute": 1440}]


@pytest.mark.parametrize(("agreements", "message"), [
    ({"mobile": {"wip_max_issues": 3}}, r"`working_agreements\.mobile` names a team that is not listed under teams"),
    ({"platform": {"first_review_hours": 8}}, r"`working_agreements\.platform\.first_review_hours` is not a known key"),
    ({"platform": {"first_review_within_hours": 0}}, r"`working_agreements\.platform\.first_review_within_hours` "
                                                     r"must be greater than 0"),
    ({"platform": {"pr_size_max_lines": 40.5}}, r"`working_agreements\.platform\.pr_size_max_lines` must be a whole"),
    ({"platform": {"wip_max_issues": "five"}}, r"`working_agreements\.platform\.wip_max_issues` must be a whole"),
    ({"platform": {"wip_max_issues": 3, "proposed": {"wip_max_issues": 2}}},
     r"`working_agreements\.platform\.proposed\.wip_max_issues` is also an agreed rule"),
    ({"platform": {"working_hours": {"days": ["mon"]}}}, r"`working_agreements\.platform\.working_hours\.timezone` "
                                                         r"is required"),
    ({"platform": {"working_hours": {"timezone": "Mars/Olympus"}}}, r"is not a known IANA time zone"),
    ({"platform": {"working_hours": {"timezone": "UTC", "start": 540}}},
     r"`working_agreements\.platform\.working_hours\.start` must be a time \"HH:MM\" \(quote it"),
    ({"platform": {"working_hours": {"timezone": "UTC", "start": "18:00", "end": "09:00"}}},
     r"`working_agreements\.platform\.working_hours\.end` must be later than start \(18:00\)"),
    ({"platform": {"working_hours": {"timezone": "UTC", "days": ["someday"]}}}, r"working_hours\.days` must be"),
    ({"platform": {"mention_authors": "yes"}}, r"`working_agreements\.platform\.mention_authors` must be true or false"),
])
def test_bad_agreements_name_the_key(agreements: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(agreements)
