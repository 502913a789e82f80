"""Definitions of the github part of the code location."""

from __future__ import annotations

from dagster import Definitions


def github_defs() -> Definitions:
    return Definitions()
