"""`/metrics`: the tiles of a window and the series of one metric, as the layer computes them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import schemas
from api.cache import answers
from api.deps import Basis, SeriesFilters, SourceDep, WindowFilters
from emd.metrics import tiles as layer
from emd.metrics.catalogue import CATALOGUE, SLUGS
from emd.metrics.filters import Filters
from emd.metrics.source import Source

router = APIRouter(prefix="/metrics", tags=["metrics"])

ERRORS = {422: {"description": "a filter is not valid; `detail[].loc` names the parameter"},
          503: {"model": schemas.Problem, "description": "no published build to read yet (the reason and "
                                                         "the command that fills the warehouse)"}}


def applied(filters: Filters) -> schemas.AppliedFilters:
    return schemas.AppliedFilters.model_validate({
        "org": filters.org, "team": filters.team, "repo": filters.repo, "from": filters.start,
        "to": filters.end, "days": filters.days, "granularity": filters.granularity})


@router.get("/tiles", response_model=schemas.TilesResponse, responses=ERRORS,  # type: ignore[arg-type]
            summary="Every tile of the catalogue for a window, with the previous equal period")
async def tiles(source: SourceDep, filters: WindowFilters, basis: Basis = None) -> Response:
    body = await answers.get_async(source, ("tiles", filters, basis), lambda: _json(_tiles(source, filters, basis)))
    return Response(body, media_type="application/json")


def _json(answer: schemas.BaseModel) -> bytes:
    """The answer encoded once (as FastAPI encodes a response model: by alias), then served from the cache."""
    return answer.model_dump_json(by_alias=True).encode()


def _tiles(source: Source, filters: Filters, basis: str | None) -> schemas.TilesResponse:
    found = layer.tiles(source, filters, basis)
    out = applied(filters)
    out.granularity = None
    return schemas.TilesResponse(filters=out, tiles=[schemas.Tile(
        key=schemas.MetricKey(t.key), label=t.label, value=t.value, unit=t.unit, sample_size=t.sample_size,
        low_sample=t.low_sample, previous=t.previous, change=t.change, previous_ingested=t.previous_ingested,
        previous_sample_size=t.previous_sample_size, band=t.band, previous_band=t.previous_band, basis=t.basis,
        notes=layer.tile_notes(t),
    ) for t in found])


@router.get("/series/{metric}", response_model=schemas.SeriesResponse, responses=ERRORS,  # type: ignore[arg-type]
            summary="One metric per day or ISO week over a window (by catalogue key or seed slug, e.g. cycle-time)")
async def series(metric: schemas.SeriesPath, source: SourceDep,  # type: ignore[valid-type]
                 filters: SeriesFilters, basis: Basis = None) -> Response:
    key = SLUGS.get(metric.value, metric.value)
    body = await answers.get_async(source, ("series", key, filters, basis),
                                   lambda: _json(_series(source, key, filters, basis)))
    return Response(body, media_type="application/json")


def _series(source: Source, key: str, filters: Filters, basis: str | None) -> schemas.SeriesResponse:
    spec = CATALOGUE[key]
    metric = schemas.SeriesMetric(key)
    points = layer.series(source, spec.key, filters, basis)
    return schemas.SeriesResponse(metric=metric, label=spec.label, unit=spec.unit, filters=applied(filters),
                                  points=[schemas.SeriesPoint(bucket=p.bucket, value=p.value,
                                                              sample_size=p.sample_size) for p in points])
