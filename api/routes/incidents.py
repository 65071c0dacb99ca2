"""/api/incidents: open, list, read, and every human action (each a workflow update)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from api.deps import current_user, ensure_can_see, get_desk, get_session, require
from api.schemas import (
    AcknowledgeIn,
    CloseIn,
    IncidentCreate,
    IncidentOut,
    Level,
    LevelIn,
    NoteIn,
    ReassignIn,
    ReleaseIn,
    ReopenIn,
    TimelineOut,
    WaiveIn,
)
from api.presenters import incident_out, timeline_out
from desk.messages import (
    Acknowledge,
    AddNote,
    ChangeLevel,
    Close,
    Reassign,
    RecordRelease,
    Reopen,
    Waive,
)
from desk.models import Incident, User, utcnow
from desk.service import (Desk, act, active_party, check_release_time, get_incident, open_incident,
                          timeline_rows)
from desk.vocab import EVERYONE, OPENERS, RESPONDERS, SUPERVISORS, Role
from workflows.incident import IncidentWorkflow

router = APIRouter(prefix="/api/incidents", tags=["incidents"])
# Every action: `Idempotency-Key` makes a retried request the same action (answered again, applied once).
# 200: done and recorded. 202: done (the clocks already know), but the database was away: the timeline
# entry is written, in order, as soon as it is back. 503: the database or Temporal cannot be reached, and
# nothing was done.
ACCEPTED = {202: {"description": "Took effect; the timeline entry is written when the database is back"}}
RECORDED_LATER = "操作已生效；数据库暂时不可用，时间线记录将在数据库恢复后按发生顺序自动补写。"
IdempotencyKey = Header(default=None, alias="Idempotency-Key", max_length=200)


@router.post("", status_code=201, response_model=IncidentOut, summary="Open an incident (值班员)")
async def create_incident(
    data: IncidentCreate,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=200),
    user: User = Depends(require(*OPENERS)),
    session: Session = Depends(get_session),
    desk: Desk = Depends(get_desk),
) -> IncidentOut:
    incident, created = await open_incident(session=session, desk=desk, data=data, user=user,
                                            idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
    return incident_out(session, incident)


@router.get("", response_model=list[IncidentOut], summary="List incidents")
def list_incidents(
    status: str | None = Query(default=None, pattern="^(open|closed)$"),
    party: str | None = Query(default=None, max_length=64),
    level: Level | None = None,
    overdue: bool | None = None,
    drill: bool | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),  # bounded: a huge offset overflowed the database
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[IncidentOut]:
    query = select(Incident)
    if user.role == Role.responder:
        query = query.where(Incident.party_code == user.party_code)
    if status:
        query = query.where(Incident.status == status)
    if party:
        query = query.where(Incident.party_code == party)
    if level:
        query = query.where(Incident.level == level.value)
    if drill is not None:
        query = query.where(Incident.drill == drill)
    if overdue is not None:
        now = utcnow()
        is_overdue = (Incident.status == "open") & (col(Incident.next_due_at) <= now)
        query = query.where(is_overdue if overdue else ~is_overdue)
    query = query.order_by(col(Incident.next_due_at).is_(None), col(Incident.next_due_at), col(Incident.id).desc())
    rows = session.exec(query.offset(offset).limit(limit)).all()
    return [incident_out(session, i) for i in rows]


@router.get("/{human_id}", response_model=IncidentOut, summary="One incident with its milestones")
def read_incident(human_id: str, user: User = Depends(current_user), session: Session = Depends(get_session)):
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(user, incident)
    return incident_out(session, incident)


@router.get("/{human_id}/timeline", response_model=TimelineOut, summary="Every event and notification attempt")
def read_timeline(human_id: str, user: User = Depends(current_user), session: Session = Depends(get_session)):
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(user, incident)
    shown_events, shown_notes = timeline_out(user, *timeline_rows(session=session, incident=incident))
    return TimelineOut(incident=incident.human_id, events=shown_events, notifications=shown_notes)


async def _run(human_id: str, user: User, session: Session, desk: Desk, update: Any, command: Any,
               key: str | None = None) -> IncidentOut | JSONResponse:
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(user, incident)
    recorded = await act(desk=desk, incident=incident, update=update, command=command, user=user, idempotency_key=key)
    if not recorded:
        return JSONResponse({"id": incident.human_id, "recorded": False, "detail": RECORDED_LATER}, status_code=202)
    session.refresh(incident)
    return incident_out(session, incident)


def _check_release_time(session: Session, user: User, human_id: str, body: ReleaseIn) -> None:
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(user, incident)
    check_release_time(incident=incident, released_at=body.released_at)


@router.post("/{human_id}/acknowledge", response_model=IncidentOut, summary="Acknowledge (签收)", responses=ACCEPTED)
async def acknowledge(human_id: str, body: AcknowledgeIn | None = None,
                      user: User = Depends(require(*RESPONDERS)), session: Session = Depends(get_session),
                      desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    note = body.note if body else ""
    return await _run(human_id, user, session, desk, IncidentWorkflow.acknowledge,
                      Acknowledge(actor=user.username, note=note), key)


def _release_route(path: str, kind: str, summary: str):
    async def record(human_id: str, body: ReleaseIn, user: User = Depends(require(*RESPONDERS)),
                     session: Session = Depends(get_session), desk: Desk = Depends(get_desk),
                     key: str | None = IdempotencyKey) -> IncidentOut | JSONResponse:
        _check_release_time(session, user, human_id, body)
        command = RecordRelease(actor=user.username, kind=kind, released_at=body.released_at,
                                channel=body.channel, url=body.url, summary=body.summary)
        return await _run(human_id, user, session, desk, IncidentWorkflow.record_release, command, key)

    record.__name__ = f"record_{kind}"
    router.add_api_route(f"/{{human_id}}/{path}", record, methods=["POST"], response_model=IncidentOut,
                         summary=summary, responses=ACCEPTED)


_release_route("releases", "release", "Record an authoritative release (发布权威信息)")
_release_route("press-conferences", "press_conference", "Record a press conference (新闻发布会; also a release)")
_release_route("updates", "update", "Record a follow-up release (动态发布)")


@router.post("/{human_id}/notes", response_model=IncidentOut, summary="Add a note (备注)", responses=ACCEPTED)
async def add_note(human_id: str, body: NoteIn, user: User = Depends(require(*EVERYONE)),
                   session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    return await _run(human_id, user, session, desk, IncidentWorkflow.add_note, AddNote(actor=user.username, text=body.text), key)


@router.post("/{human_id}/reassign", response_model=IncidentOut, summary="Reassign to another party (改派)", responses=ACCEPTED)
async def reassign(human_id: str, body: ReassignIn, user: User = Depends(require(*SUPERVISORS)),
                   session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    party = active_party(session=session, code=body.party)
    command = Reassign(actor=user.username, party_code=party.code, party_name=party.name, reason=body.reason)
    return await _run(human_id, user, session, desk, IncidentWorkflow.reassign, command, key)


@router.post("/{human_id}/level", response_model=IncidentOut, summary="Change the level (调整级别)", responses=ACCEPTED)
async def change_level(human_id: str, body: LevelIn, user: User = Depends(require(*SUPERVISORS)),
                       session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    command = ChangeLevel(actor=user.username, level=body.level.value, reason=body.reason)
    return await _run(human_id, user, session, desk, IncidentWorkflow.change_level, command, key)


@router.post("/{human_id}/waive", response_model=IncidentOut, summary="Waive a milestone with a reason (豁免)", responses=ACCEPTED)
async def waive(human_id: str, body: WaiveIn, user: User = Depends(require(*SUPERVISORS)),
                session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    command = Waive(actor=user.username, milestone=body.milestone.value, reason=body.reason)
    return await _run(human_id, user, session, desk, IncidentWorkflow.waive, command, key)


@router.post("/{human_id}/close", response_model=IncidentOut, summary="Close (结案)", responses=ACCEPTED)
async def close(human_id: str, body: CloseIn | None = None, user: User = Depends(require(*SUPERVISORS)),
                session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    command = Close(actor=user.username, reason=body.reason if body else "")
    return await _run(human_id, user, session, desk, IncidentWorkflow.close, command, key)


@router.post("/{human_id}/reopen", response_model=IncidentOut, summary="Reopen (重新打开)", responses=ACCEPTED)
async def reopen(human_id: str, body: ReopenIn, user: User = Depends(require(*SUPERVISORS)),
                 session: Session = Depends(get_session), desk: Desk = Depends(get_desk), key: str | None = IdempotencyKey):
    return await _run(human_id, user, session, desk, IncidentWorkflow.reopen, Reopen(actor=user.username, reason=body.reason), key)

