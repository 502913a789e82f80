"""Definitions of the PagerDuty part of the code location: the incidents ingestion asset and its client."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.pagerduty.assets import raw_pagerduty_incidents
from orchestration.defs.pagerduty.resource import PagerDutyResource


def pagerduty_defs() -> Definitions:
    # The token and URL are read from PAGERDUTY_API_TOKEN / PAGERDUTY_API_URL when a run uses the resource.
    return Definitions(assets=[raw_pagerduty_incidents], resources={"pagerduty": PagerDutyResource()})
