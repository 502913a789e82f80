"""`/healthz`: which published build the API answers from, and how old it is."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api import schemas
from api.deps import SourceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health,
            responses={404: {"model": schemas.Problem, "description": "`tenant` names no configured tenant"},
                       503: {"model": schemas.Problem, "description": "no published build yet"}},
            summary="The snapshot's build id and age")
def healthz(source: SourceDep) -> schemas.Health:
    published = source.published_at
    age = None
    if published is not None:
        aware = published if published.tzinfo else published.replace(tzinfo=UTC)
        age = round((datetime.now(UTC) - aware).total_seconds(), 3)
    return schemas.Health(status="ok", build_id=source.build_id, published_at=published, age_seconds=age,
                          warehouse=source.kind)
