"""Definitions of the insights part of the code location."""

from __future__ import annotations

from dagster import Definitions


def insights_defs() -> Definitions:
    return Definitions()
