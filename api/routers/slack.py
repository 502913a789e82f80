"""`POST /slack/summaries`: post (or update) a team's Sprint Health card in Slack, as the scheduled post does.

The card and its Slack columns are read from the `sprint_health` table of the record store (emd/records.py: on
DuckDB a SQLite file beside the warehouse, so this route never opens the live warehouse file a run may hold),
the one the scheduled post (orchestration's `sprint_health_slack_post`) reads and records into: the first post records
the message's channel and ts, every later one edits that message with chat.update, so a card never gets a
second message, whoever posts it. Requests for the same card are serialized within the process.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import schemas
from api.auth import PrincipalDep
from api.deps import TenantDep
from emd import settings, tenants
from emd.config import ConfigError, load_config
from emd.settings import SettingsError
from emd.slack import SlackPoster, SlackPostError, latest_per_team, post_card, slack_target
from emd.sprint_health import SprintHealthRow, read_rows
from emd.warehouse import Warehouse, WarehouseError

router = APIRouter(prefix="/slack", tags=["slack"])
bearer = HTTPBearer(auto_error=False, description="EMD_API_TOKEN")
_locks: dict[tuple[str, ...], threading.Lock] = {}
_locks_guard = threading.Lock()


def require_admin(request: Request, principal: PrincipalDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """POST routes: with sign-in on, an admin (config `access.admins`) or EMD_API_TOKEN (api/auth.py signed
    either in); without it, the EMD_API_TOKEN bearer."""
    if request.app.state.sign_in is not None:
        if not principal.admin:
            raise HTTPException(403, detail="posting is for the groups under the config's `access.admins`, or the "
                                            "EMD_API_TOKEN machine credential")
        return
    expected = settings.env("EMD_API_TOKEN")
    if expected is None:
        raise HTTPException(503, detail="EMD_API_TOKEN is not set on the API server: it is the bearer token that "
                                        "POST /slack/summaries requires. Set it in the environment or in .env.")
    given = credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, detail="send `Authorization: Bearer <EMD_API_TOKEN>`",
                            headers={"WWW-Authenticate": "Bearer"})


def _choose(rows: list[SprintHealthRow], team: str, sprint: str | None) -> SprintHealthRow | None:
    mine = [r for r in rows if r.team == team]
    if sprint is None:
        latest = latest_per_team(mine, ("sprint", "week"))
        return latest[0] if latest else None
    for match in (lambda r: r.period_id == sprint, lambda r: r.period_name == sprint):
        chosen = [r for r in mine if match(r)]
        if chosen:
            return chosen[0]
    return None


def _lock(key: tuple[str, ...]) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


@router.post("/summaries", response_model=schemas.SlackSummaryResponse, dependencies=[Depends(require_admin)],
             responses={400: {"model": schemas.Problem, "description": "the body is not JSON"},
                        401: {"model": schemas.Problem, "description": "no or a wrong bearer token"},
                        403: {"model": schemas.Problem, "description": "signed in, but not an admin"},
                        404: {"model": schemas.Problem, "description": "the team has no card (for that sprint), "
                                                                       "or `tenant` names no tenant you reach"},
                        422: {"description": "unknown team, or no `tenant` with several; `detail[].loc` names "
                                             "the field"},
                        502: {"model": schemas.Problem, "description": "Slack refused or failed the post"},
                        503: {"model": schemas.Problem,
                              "description": "EMD_API_TOKEN or Slack (SLACK_BOT_TOKEN, SLACK_CHANNEL_ID) is not "
                                             "configured, or the warehouse cannot be opened"}},
             summary="Post a team's Sprint Health card to Slack, or update the message posted before")
def post_summary(request: schemas.SlackSummaryRequest, tenant: TenantDep) -> schemas.SlackSummaryResponse:
    # The tenant's own Slack, config (the dashboard link) and warehouse: an admin's token reaches only the
    # tenant it names; the machine credential names one with `?tenant=` when there are several.
    target = slack_target(tenant)
    if target is None:
        prefix = f"{tenant.upper()}_" if tenant is not None and len(tenants.names()) > 1 else ""
        raise HTTPException(503, detail=f"Slack is not configured on the API server: set both {prefix}SLACK_BOT_TOKEN "
                                        f"(the xoxb- bot token) and {prefix}SLACK_CHANNEL_ID (the channel's ID).")
    try:
        dashboard_url = load_config(tenants.config_path(tenant)).dashboard_url
        wh = Warehouse(tenants.database_target(tenant))
    except ConfigError as exc:
        raise HTTPException(503, detail=f"the project config is needed for the dashboard link: {exc}") from None
    except SettingsError as exc:
        raise HTTPException(503, detail=f"cannot open the warehouse: {exc}") from None
    try:
        stored = list(read_rows(wh).values())
    except (WarehouseError, sqlite3.Error) as exc:
        raise HTTPException(503, detail=f"cannot read the Sprint Health cards: {exc}") from None
    teams = sorted({r.team for r in stored})
    if request.team not in teams:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "team"), "input": request.team,
                                       "msg": f"no Sprint Health card exists for team {request.team!r}; teams "
                                              f"with cards: {', '.join(teams) or 'none'}"}])
    row = _choose(stored, request.team, request.sprint)
    if row is None:
        known = ", ".join(f"{r.period_id} ({r.period_name})" for r in stored if r.team == request.team)
        raise HTTPException(404, detail=f"team {request.team!r} has no card for sprint {request.sprint!r}; "
                                        f"its cards: {known}")
    with _lock((tenant or "", *row.key)):
        # Re-read under the lock: a post that finished meanwhile recorded its ts, which this one must update.
        fresh = read_rows(wh).get(row.key, row)
        try:
            poster = SlackPoster(target)
            poster.check_auth()
            channel, ts, action = post_card(poster, wh, fresh, dashboard_url)
        except SlackPostError as exc:
            raise HTTPException(502, detail=str(exc)) from None
    return schemas.SlackSummaryResponse(team=row.team, period_id=row.period_id, period_name=row.period_name,
                                        action=action, channel=channel, ts=ts)  # type: ignore[arg-type]
