"""The API's response and request models (pydantic), which OpenAPI documents at /docs.

The metric keys are generated from the catalogue (emd/metrics/catalogue.py): adding a metric there adds
it to `MetricKey` (tiles) and, when it has a series, to `SeriesMetric` (the path of /metrics/series).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from emd.metrics.catalogue import CATALOGUE, SLUG_OF, SLUGS


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The warehouse stores naive UTC timestamps; the API writes them as RFC 3339 with their offset (`...Z`).
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

MetricKey = StrEnum("MetricKey", {key: key for key in CATALOGUE})  # type: ignore[misc]
MetricKey.__doc__ = "A metric of the catalogue (docs/metrics.md)."
SeriesMetric = StrEnum("SeriesMetric", {key: key for key, m in CATALOGUE.items() if m.series})  # type: ignore[misc]
SeriesMetric.__doc__ = "A metric of the catalogue that has a series per day or week."
# The path of /metrics/series accepts a series metric's key or its seed slug (`cycle-time`).
SeriesPath = StrEnum("SeriesPath", {**{key: key for key in SeriesMetric},  # type: ignore[misc]
                                    **{slug: slug for slug in SLUGS}})
SeriesPath.__doc__ = ("A metric with a series: its catalogue key or its slug ("
                      + ", ".join(f"`{slug}` = `{key}`" for slug, key in SLUGS.items()) + ").")


def _metric_list(series_only: bool) -> str:
    return "\n".join(f"- `{m.key}`{f' (slug `{SLUG_OF[m.key]}`)' if m.key in SLUG_OF else ''} ({m.unit}): "
                     f"{m.definition}" for m in CATALOGUE.values() if m.series or not series_only)


class AppliedFilters(BaseModel):
    """The filters the answer was computed for (defaults filled in: the last 30 ingested days)."""

    model_config = ConfigDict(populate_by_name=True)

    org: str | None = None
    team: str | None = None
    repo: str | None = None
    from_: date = Field(alias="from", description="first UTC day, inclusive")
    to: date = Field(description="last UTC day, inclusive")
    days: int = Field(description="days in the window")
    granularity: Literal["day", "week"] | None = None


class Tile(BaseModel):
    key: MetricKey  # type: ignore[valid-type]
    label: str
    value: float | None = Field(description="null when the window has no sample (rates as fractions in [0, 1], "
                                            "*_pct x 100, as in the marts)")
    unit: str
    sample_size: int = Field(description="rows the value was computed from")
    low_sample: bool = Field(description="sample_size below the catalogue's LOW_SAMPLE")
    previous: float | None = Field(description="the previous equal period's value; null when it has no sample "
                                               "or was not ingested")
    change: float | None = Field(description="value - previous")
    previous_ingested: bool = Field(description="whether the previous equal period lies in the ingested calendar")
    previous_sample_size: int | None = Field(default=None, description="the previous period's sample size")
    band: str | None = Field(default=None, description="DORA performance band (elite | high | medium | low) of "
                                                       "one of DORA's four keys (docs/metrics.md)")
    previous_band: str | None = Field(default=None, description="the previous equal period's band")
    basis: str | None = Field(default=None, description="planning ratios: by `points` or by `issues` count")
    notes: list[str] = Field(default_factory=list, description="what the dashboard shows under the tile: the "
                             "sample size (marked when below LOW_SAMPLE), the previous value and band, and "
                             "the tile's data notes")


class TilesResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "Every tile of the catalogue:\n"
                                                                + _metric_list(False)})

    filters: AppliedFilters
    tiles: list[Tile]


class SeriesPoint(BaseModel):
    bucket: date = Field(description="the day, or the Monday of the ISO week")
    value: float | None
    sample_size: int


class SeriesResponse(BaseModel):
    metric: SeriesMetric = Field(description="the catalogue key (also when asked by slug)")  # type: ignore[valid-type]
    label: str
    unit: str
    filters: AppliedFilters
    points: list[SeriesPoint]


class SlackPost(BaseModel):
    channel: str | None = None
    ts: str | None = None
    posted_at: UtcDatetime | None = None


class SprintHealthCard(BaseModel):
    insights: list[str]
    risks: list[str]
    recommendations: list[str]


class SprintHealthResponse(BaseModel):
    team: str
    period_kind: Literal["sprint", "week"] | str
    period_id: str = Field(description="the Jira sprint id, or the ISO week (2026-W12) of a team without sprints")
    period_name: str
    period_start: UtcDatetime
    period_end: UtcDatetime
    source: str = Field(description="model | fallback (the rule-based card)")
    model: str | None
    generated_at: UtcDatetime
    card: SprintHealthCard
    card_text: str
    metrics: dict[str, Any] = Field(description="the metrics blob the card was written from")
    slack: SlackPost


class SlackSummaryRequest(BaseModel):
    team: str = Field(min_length=1)
    sprint: str | None = Field(default=None, description="sprint id or name (or ISO week); default: the team's "
                                                         "latest card")


class SlackSummaryResponse(BaseModel):
    team: str
    period_id: str
    period_name: str
    action: Literal["posted", "updated"]
    channel: str
    ts: str


class Health(BaseModel):
    status: Literal["ok"]
    build_id: str
    published_at: UtcDatetime | None
    age_seconds: float | None = Field(description="seconds since the snapshot was published")
    warehouse: str = Field(description="duckdb | postgres")


class Problem(BaseModel):
    """A 401, 404, 502 or 503: what went wrong and what to do."""

    detail: str | dict[str, Any]


class SloDeployment(BaseModel):
    deployment_id: str
    repo: str
    deployed_at: UtcDatetime
    budget_burned_pct: float | None = Field(description="bad events in the 24 h after deployed_at / the error "
                                                        "budget of the window ending at `to` x 100; null when "
                                                        "not measured (ratio SLOs) or without a budget")


class Slo(BaseModel):
    name: str
    service: str
    team: str
    target: float = Field(description="the objective, e.g. 0.999")
    window_days: int = Field(description="the rolling window, 28 or 30 days")
    sli: float | None = Field(description="good / total events over the window ending at `to` (a fraction); "
                                          "null without events")
    error_budget_remaining_pct: float | None = Field(description="(1 - (1 - sli) / (1 - target)) x 100; negative "
                                                                 "once overspent")
    burn_rate: float | None = Field(description="(1 - the day's SLI) / (1 - target) of the day `to`; null "
                                                "without data that day")
    status: Literal["healthy", "at_risk", "exhausted"] | None = Field(
        description="exhausted: remaining <= 0; at_risk: remaining < 25 or burn_rate >= 6; null without data")
    deployments: list[SloDeployment] = Field(description="the team's deployments deployed in [from, to]")


class SlosResponse(BaseModel):
    filters: AppliedFilters
    slos: list[Slo]
