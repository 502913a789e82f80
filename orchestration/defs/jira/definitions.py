"""Definitions of the jira part of the code location."""

from __future__ import annotations

from dagster import Definitions


def jira_defs() -> Definitions:
    return Definitions()
