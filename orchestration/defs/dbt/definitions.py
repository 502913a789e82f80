"""Definitions of the dbt part of the code location."""

from __future__ import annotations

from dagster import Definitions


def dbt_defs() -> Definitions:
    return Definitions()
