"""Definitions of the jira part of the code location: ingestion assets (with their checks) and the client."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.jira.assets import jira_issues, raw_jira_sprints, raw_jira_statuses
from orchestration.defs.jira.resource import JiraResource


def jira_defs() -> Definitions:
    # JiraResource reads JIRA_BASE_URL / JIRA_EMAIL / JIRA_API_TOKEN only when a run needs Jira (never at import
    # time, and not at all when no Jira project or board is configured, since Jira is optional).
    return Definitions(assets=[jira_issues, raw_jira_sprints, raw_jira_statuses], resources={"jira": JiraResource()})
