"""`/ai/impact`: AI-assisted work for a window -- the AI-assisted share, AI-assisted versus other PRs with sample
sizes and bootstrap intervals, and Copilot adoption per day (docs/metrics.md "AI-assisted work"). The filters
come through the same dependency as `/metrics` (so a user's team scope applies); the numbers from
emd/metrics/ai.py. No per-person Copilot figure is ever part of the answer."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api import schemas
from api.cache import answers
from api.deps import SourceDep, TenantDep, WindowFilters
from api.routers.metrics import ERRORS, applied
from emd.metrics import ai as layer
from emd.metrics.filters import Filters
from emd.metrics.source import Source

router = APIRouter(prefix="/ai", tags=["ai"])


class AiSide(BaseModel):
    value: float | None = Field(description="p50 (hours or lines) or a rate (fraction); null without items")
    sample_size: int


class AiComparison(BaseModel):
    key: str = Field(description="cycle_time_p50_hours | pickup_p50_hours | review_time_p50_hours | "
                                 "pr_size_p50_lines | pr_rework_rate | change_failure_rate")
    label: str
    unit: Literal["h", "lines", "rate"]
    sample_noun: str
    ai: AiSide
    other: AiSide
    difference: float | None = Field(description="AI minus other; null unless both samples have at least 5")
    interval: tuple[float, float] | None = Field(description="90% bootstrap interval of the difference "
                                                             "(2,000 seeded resamples); null with the difference")


class AiAdoptionDay(BaseModel):
    date: date
    daily_active_users: int
    code_generation_activity_count: int
    code_acceptance_activity_count: int


class AiImpactResponse(BaseModel):
    filters: schemas.AppliedFilters
    ai_assisted_pr_share: float | None = Field(description="AI-assisted merged PRs / merged PRs")
    ai_assisted_prs: int
    merged_prs: int
    signals: dict[str, int] = Field(description="AI-assisted merged PRs by the rule that matched first")
    comparison: list[AiComparison]
    adoption_scope: Literal["org", "teams", "none"] = Field(
        description="org: the Copilot report's org rows; teams: summed over the teams in scope of 5 people or "
                    "more; none: no Copilot data to show for the scope")
    hidden_teams: list[str] = Field(description="teams in scope below 5 people: their adoption is not shown")
    adoption: list[AiAdoptionDay]


@router.get("/impact", response_model=AiImpactResponse, responses=ERRORS,  # type: ignore[arg-type]
            summary="AI-assisted share, AI-assisted vs other PRs (with intervals) and Copilot adoption")
async def impact(source: SourceDep, filters: WindowFilters, tenant: TenantDep) -> Response:
    body = await answers.get_async(source, ("ai-impact", filters),
                                   lambda: _answer(source, filters, tenant).model_dump_json(by_alias=True).encode())
    return Response(body, media_type="application/json")


def _answer(source: Source, filters: Filters, tenant: str | None) -> AiImpactResponse:
    found = layer.ai_impact(source, filters)
    return AiImpactResponse(
        filters=applied(source, filters, tenant), ai_assisted_pr_share=found.share, ai_assisted_prs=found.ai_prs,
        merged_prs=found.merged_prs, signals=found.signals,
        comparison=[AiComparison(key=c.key, label=c.label, unit=c.unit,  # type: ignore[arg-type]
                                 sample_noun=c.sample_noun, ai=AiSide(**vars(c.ai)), other=AiSide(**vars(c.other)),
                                 difference=c.difference, interval=c.interval) for c in found.comparisons],
        adoption_scope=found.adoption_scope,  # type: ignore[arg-type]
        hidden_teams=found.hidden_teams,
        adoption=[AiAdoptionDay(date=d.day, daily_active_users=d.daily_active_users,
                                code_generation_activity_count=d.code_generation_activity_count,
                                code_acceptance_activity_count=d.code_acceptance_activity_count)
                  for d in found.adoption])
