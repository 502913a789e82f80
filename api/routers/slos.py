"""`/slos`: each SLO's window SLI, error budget and burn rate at `to`, and the deployments that burned it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import schemas
from api.cache import answers
from api.deps import SourceDep, WindowFilters
from api.routers.metrics import ERRORS, applied
from emd.metrics import slos as layer
from emd.metrics.filters import Filters
from emd.metrics.source import Source

router = APIRouter(tags=["slos"])


@router.get("/slos", response_model=schemas.SlosResponse, responses=ERRORS,  # type: ignore[arg-type]
            summary="SLOs and error budgets over the window ending at `to`, with the deployments in [from, to]")
async def slos(source: SourceDep, filters: WindowFilters) -> Response:
    body = await answers.get_async(source, ("slos", filters), lambda: _slos(source, filters))
    return Response(body, media_type="application/json")


def _slos(source: Source, filters: Filters) -> bytes:
    out = applied(filters)
    out.granularity = None
    answer = schemas.SlosResponse(filters=out, slos=[schemas.Slo(
        name=r.name, service=r.service, team=r.team, target=r.target, window_days=r.window_days, sli=r.sli,
        error_budget_remaining_pct=r.error_budget_remaining_pct, burn_rate=r.burn_rate,
        status=r.status,  # type: ignore[arg-type]
        deployments=[schemas.SloDeployment(deployment_id=d.deployment_id, repo=d.repo, deployed_at=d.deployed_at,
                                           budget_burned_pct=d.budget_burned_pct) for d in r.deployments],
    ) for r in layer.reports(source, filters)])
    return answer.model_dump_json(by_alias=True).encode()
