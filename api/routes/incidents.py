"""/api/incidents: open, list, read, and every human action (each a workflow update, declared in desk.actions)."""

from __future__ import annotations

import inspect
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from api.deps import CurrentUser, DeskDep, SessionDep, ensure_can_see, require
from api.presenters import incident_out, incidents_out, opened_out, timeline_out
from api.schemas import IncidentCreate, IncidentOut, Level, SimilarOut, Source, TimelineOut
from desk import duplicates, search
from desk.actions import ACTIONS, Action, check_part
from desk.models import Incident, utcnow
from desk.service import act, get_incident, open_incident, party_role, read_again, timeline_rows, visible_to
from desk.vocab import OPENERS

router = APIRouter(prefix="/api/incidents", tags=["incidents"])
# Every action: `Idempotency-Key` makes a retried request the same action (answered again, applied once).
# 200: done and recorded. 202: done (the clocks already know), but the database was away: the timeline
# entry is written, in order, as soon as it is back. 503: the database or Temporal cannot be reached, and
# nothing was done.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Took effect; the timeline entry is written when the database is back"}}
RECORDED_LATER = "操作已生效；数据库暂时不可用，时间线记录将在数据库恢复后按发生顺序自动补写。"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post("", status_code=201, response_model=IncidentOut, summary="Open an incident (值班员)",
             dependencies=[Depends(require(*OPENERS))])
async def create_incident(data: IncidentCreate, response: Response, user: CurrentUser, session: SessionDep, desk: DeskDep,
                          idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> IncidentOut:
    opened = await open_incident(session=session, desk=desk, data=data, user=user, idempotency_key=idempotency_key)
    if not opened.created:
        response.status_code = 200
    return opened_out(session, opened)


@router.get("", response_model=list[IncidentOut], summary="List and search incidents")
def list_incidents(
    user: CurrentUser,
    session: SessionDep,
    q: str = Query(default="", max_length=2000, description="Words in the title, summary, notes or release "
                   "summaries (a substring: Chinese needs no spaces); at most 100 characters"),
    detected_from: date | None = Query(default=None, description="Detected on or after this day (Beijing)"),
    detected_to: date | None = Query(default=None, description="Detected on or before this day (Beijing)"),
    status: str | None = Query(default=None, pattern="^(open|closed)$"),
    party: str | None = Query(default=None, max_length=64),
    level: Level | None = None,
    source: Source | None = None,
    overdue: bool | None = None,
    drill: bool | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),  # bounded: a huge offset overflowed the database
) -> list[IncidentOut]:
    filters = search.check(search.SearchFilters(
        q=q, detected_from=detected_from, detected_to=detected_to, party=party, status=status,
        level=level.value if level else None, source=source.value if source else None))
    query = visible_to(select(Incident), user)
    if drill is not None:
        query = query.where(Incident.drill == drill)
    if overdue is not None:
        now = utcnow()
        is_overdue = (col(Incident.status) == "open") & (col(Incident.next_due_at) <= now)
        query = query.where(is_overdue if overdue else ~is_overdue)
    rows = search.urgent_first(session, query, filters, offset=offset, limit=limit)
    return incidents_out(session, list(rows))


@router.get("/similar", response_model=list[SimilarOut], summary="Likely duplicates of a title (last 14 days)",
            dependencies=[Depends(require(*OPENERS))])
def similar_incidents(session: SessionDep,
                      title: str = Query(default="", max_length=200, description="the title being typed"),
                      summary: str = Query(default="", max_length=5000),
                      exclude: str = Query(default="", max_length=40, description="an incident not to list")
                      ) -> list[SimilarOut]:
    """The new-incident form asks while the title is typed: incidents detected in the last 14 days whose title
    or summary shares the wording, most alike first (desk/duplicates.py)."""
    return [SimilarOut(id=s.incident.human_id, title=s.incident.title, status=s.incident.status, party=s.party_name,
                       detected_at=s.incident.detected_at, score=s.score)
            for s in duplicates.similar_incidents(session=session, title=title, summary=summary, exclude=exclude)]


@router.get("/{human_id}", response_model=IncidentOut, summary="One incident with its milestones")
def read_incident(human_id: str, user: CurrentUser, session: SessionDep):
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(session, user, incident)
    out = incident_out(session, incident)
    seen = duplicates.relations(session=session, user=user, incident=incident)
    out.merged_from = [r[0] for r in seen.merged_from]
    out.related = [r[0] for r in seen.related]
    return out


@router.get("/{human_id}/timeline", response_model=TimelineOut, summary="Every event and notification attempt")
def read_timeline(human_id: str, user: CurrentUser, session: SessionDep):
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(session, user, incident)
    shown_events, shown_notes = timeline_out(user, *timeline_rows(session=session, incident=incident))
    return TimelineOut(incident=incident.human_id, events=shown_events, notifications=shown_notes)


def _add_action_route(action: Action) -> None:
    """POST /api/incidents/{human_id}/{action.path}: the action's roles on the route, its input as the body."""

    async def run(human_id: str, *, body: object, user: CurrentUser, session: SessionDep, desk: DeskDep,
                  key: IdempotencyKey = None) -> IncidentOut | JSONResponse:
        incident = get_incident(session=session, human_id=human_id)
        ensure_can_see(session, user, incident)
        check_part(action, party_role(session=session, user=user, incident=incident))
        body = body if body is not None else action.model()
        if action.precheck is not None:
            action.precheck(incident, body)
        command = action.build(user, body, session, incident)
        recorded = await act(desk=desk, incident=incident, update=action.update, command=command, user=user,
                             idempotency_key=key)
        if not recorded:
            return JSONResponse({"id": incident.human_id, "recorded": False, "detail": RECORDED_LATER}, status_code=202)
        return incident_out(session, read_again(session, incident))

    # The body's type is the action's own model (optional where every field has a default and the API always
    # took an empty request); the other parameters keep their annotations.
    signature = inspect.signature(run)
    body = signature.parameters["body"].replace(
        annotation=action.model | None if action.body_optional else action.model,
        default=None if action.body_optional else inspect.Parameter.empty)
    run.__signature__ = signature.replace(parameters=[body if p.name == "body" else p  # type: ignore[attr-defined]
                                                      for p in signature.parameters.values()])
    # The operation ids the API always had: the update's name, or record_<kind> for the kinds of release.
    shared = sum(a.update is action.update for a in ACTIONS.values()) > 1
    run.__name__ = f"{action.update.__name__.split('_')[0]}_{action.key}" if shared else action.update.__name__
    router.add_api_route(f"/{{human_id}}/{action.path}", run, methods=["POST"], response_model=IncidentOut,
                         summary=action.summary, responses=ACCEPTED, dependencies=[Depends(require(*action.roles))])


for _action in ACTIONS.values():
    _add_action_route(_action)
