"""`/insights/sprint-health`: a team's Sprint Health card and the metrics blob it was written from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api import schemas
from api.auth import PrincipalDep
from api.deps import SourceDep, TenantDep, filter_error, out_of_scope
from emd.metrics.cards import find_card, team_cards
from emd.metrics.filters import dimensions

router = APIRouter(prefix="/insights", tags=["insights"])


@router.get("/sprint-health", response_model=schemas.SprintHealthResponse,
            responses={401: {"model": schemas.Problem, "description": "sign-in is on and the token is missing or "
                                                                      "not valid"},
                       403: {"model": schemas.Problem, "description": "the team is outside your access"},
                       404: {"model": schemas.Problem, "description": "the team has no card (for that sprint)"},
                       422: {"description": "unknown team; `detail[].loc` names the parameter"},
                       503: {"model": schemas.Problem, "description": "no published build yet"}},
            summary="The Sprint Health card of a team's sprint (default: its latest) and its metrics")
def sprint_health(
    source: SourceDep,
    principal: PrincipalDep,
    tenant: TenantDep,
    team: Annotated[str, Query(description="team name from the config's `teams:`", max_length=200)],
    sprint: Annotated[str | None, Query(description="sprint id or name, or ISO week (2026-W12) for a team "
                                                    "without sprints; default: the latest card",
                                        max_length=200)] = None,
) -> schemas.SprintHealthResponse:
    if principal.teams is not None and team not in principal.teams:
        raise out_of_scope()  # before looking: whether the team exists is not revealed
    teams = dimensions(source).teams
    if team not in teams:
        raise filter_error("team", f"unknown team {team!r}; known: {', '.join(teams)}", team)
    card = find_card(source, team, sprint)
    if card is None:
        if sprint is None:
            raise HTTPException(404, detail=f"no Sprint Health card exists yet for team {team!r}: the insights "
                                            "job writes one after each completed sprint (weekly without sprints)")
        known = ", ".join(f"{c.period_id} ({c.period_name})" for c in team_cards(source, team)) or "none"
        raise HTTPException(404, detail=f"team {team!r} has no card for sprint {sprint!r}; its cards: {known}")
    scope = list(principal.teams) if principal.teams is not None else list(teams)
    return schemas.SprintHealthResponse(
        filters=schemas.CardFilters(team=team, sprint=sprint, scope=scope, tenant=tenant), team=card.team, period_kind=card.period_kind, period_id=card.period_id, period_name=card.period_name,
        period_start=card.period_start, period_end=card.period_end, source=card.source, model=card.model,
        generated_at=card.generated_at, card=schemas.SprintHealthCard(**card.card), card_text=card.card_text,
        metrics=card.metrics,
        slack=schemas.SlackPost(channel=card.slack_channel, ts=card.slack_ts, posted_at=card.posted_at))
