"""Definitions of the SLO part of the code location: the Prometheus events ingestion asset and its client."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.slos.assets import slo_events
from orchestration.defs.slos.resource import PrometheusResource


def slo_defs() -> Definitions:
    # The URL and token are read from PROMETHEUS_URL / PROMETHEUS_TOKEN when a run uses the resource.
    return Definitions(assets=[slo_events], resources={"prometheus": PrometheusResource()})
