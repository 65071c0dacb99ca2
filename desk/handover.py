"""Shift handover (交接班), HTTP-free: the note the desk writes at a shift change, handing over, taking over.

The note covers the outgoing officer's shift (their city duty shift on the roster; else since the last
handover; else the last 12 hours): the open incidents with their next deadlines, what happened during the
shift (the timeline events of every incident), and what is still missing (``pending_work``: the seam for
tasks and evidence). Handing over freezes the note in a row and starts HandoverWorkflow, which escalates to
the supervisor when the incoming officer has not confirmed within the policy's ``handover.confirm_within``;
confirming is the workflow's update (only the incoming officer may), which records it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from desk import refusals
from desk.errors import Conflict, EngineUnavailable, InvalidInput, NotFound
from desk.messages import ConfirmHandover, HandoverInput
from desk.models import Handover, Incident, Milestone, Party, TimelineEvent, User
from desk.roster import person_name, recipients_on_duty, shifts_between
from desk.service import Desk
from desk.vocab import ON_CITY_DUTY, HandoverStatus, IncidentStatus, MilestoneState
from workflows.handover import HandoverWorkflow

log = logging.getLogger("desk.handover")
DEFAULT_SHIFT = timedelta(hours=12)  # the period a note covers when the roster has no shift for the officer
LAST_SHIFT_GRACE = timedelta(hours=6)  # a shift that ended this long ago is still the one being handed over
MAX_EVENTS = 300
MAX_REMARKS = 2000
OPEN_STATES = (MilestoneState.pending, MilestoneState.overdue)


@dataclass
class HandoverDraft:
    """What the outgoing officer reviews before handing over."""

    shift_start: datetime
    shift_end: datetime
    on_roster: bool  # the period is the officer's shift on the roster
    incoming: str | None  # the roster's next officer, proposed
    note: dict[str, Any]
    candidates: list[User] = field(default_factory=list)  # who may take over


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def shift_window(session: Session, user: User, now: datetime) -> tuple[datetime, datetime, bool]:
    """The shift being handed over: (start, end, from the roster)."""
    mine = [s for s in shifts_between(session, now - DEFAULT_SHIFT - LAST_SHIFT_GRACE, now + timedelta(minutes=1))
            if s.party_code is None and s.username == user.username and s.starts_at <= now]
    if mine:
        shift = max(mine, key=lambda s: s.starts_at)
        if shift.ends_at >= now - LAST_SHIFT_GRACE:
            return shift.starts_at, now, True
    last = session.exec(select(Handover.handed_over_at).where(col(Handover.handed_over_at) <= now,
                                                             col(Handover.handed_over_at) > now - DEFAULT_SHIFT)
                        .order_by(col(Handover.handed_over_at).desc())).first()
    return (last or now - DEFAULT_SHIFT), now, False


def default_incoming(session: Session, user: User, now: datetime, shift_end: datetime | None = None) -> str | None:
    """Who takes over according to the roster: the city duty officer on duty when this shift ends (or now),
    else the next one to start within the coming hours."""
    for at in (shift_end, now):
        if at is None:
            continue
        others = [p for p in recipients_on_duty(session, party=None, at=at) if p.username != user.username]
        if others:
            return others[-1].username  # the latest to start: the one coming on
    coming = [s for s in shifts_between(session, now, now + DEFAULT_SHIFT)
              if s.party_code is None and s.username != user.username and s.starts_at >= now]
    return min(coming, key=lambda s: s.starts_at).username if coming else None


def pending_work(session: Session, incident_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """SEAM (SPEC §9, built elsewhere): what is still missing per open incident — tasks (督办事项) not done and
    evidence (证据) not yet attached. Return {"tasks": [{"human_id", "text", "party", "due_at"}...],
    "evidence": [{"human_id", "what"}...]} once those exist; the note and its page show every list given here."""
    return {}


def handover_note(session: Session, *, start: datetime, end: datetime) -> dict[str, Any]:
    """The note: open incidents with their open deadlines (nearest first), the shift's timeline, what is missing."""
    incidents = session.exec(select(Incident).where(Incident.status == IncidentStatus.open)
                             .order_by(col(Incident.next_due_at).is_(None), col(Incident.next_due_at))).all()
    ids = [i.id for i in incidents]
    names = {p.code: p.name for p in session.exec(select(Party)).all()}
    deadlines: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for m in session.exec(select(Milestone).where(col(Milestone.incident_id).in_(ids),
                                                      col(Milestone.state).in_(OPEN_STATES))
                              .order_by(col(Milestone.due_at))).all():
            deadlines.setdefault(m.incident_id, []).append(
                {"key": m.key, "label": m.label, "due_at": _iso(m.due_at), "state": m.state})
    events = session.exec(
        select(TimelineEvent, Incident).join(Incident, col(Incident.id) == TimelineEvent.incident_id)
        .where(col(TimelineEvent.at) >= start, col(TimelineEvent.at) <= end)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id)).limit(MAX_EVENTS + 1)).all()
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "incidents": [{"human_id": i.human_id, "title": i.title, "level": i.level, "party": i.party_code,
                       "party_name": names.get(i.party_code, i.party_code), "drill": i.drill, "overdue": i.overdue,
                       "deadlines": deadlines.get(i.id or 0, [])} for i in incidents],
        "events": [{"human_id": inc.human_id, "title": inc.title, "kind": e.kind, "actor": e.actor, "at": _iso(e.at)}
                   for e, inc in events[:MAX_EVENTS]],
        "more_events": len(events) > MAX_EVENTS,
        "pending": pending_work(session, [i for i in ids if i is not None]),
    }


def takers(session: Session, *, besides: str) -> list[User]:
    """Everyone who may take a shift over (the city's duty side), but the one handing over."""
    return [u for u in session.exec(select(User).where(col(User.role).in_(ON_CITY_DUTY), User.active == True)  # noqa: E712
                                    .order_by(col(User.role), col(User.username))).all()
            if u.username != besides]


def draft(session: Session, *, user: User, now: datetime | None = None) -> HandoverDraft:
    now = now or datetime.now(UTC)
    start, end, on_roster = shift_window(session, user, now)
    roster_end = None
    if on_roster:
        mine = [s for s in shifts_between(session, start, start + timedelta(seconds=1))
                if s.party_code is None and s.username == user.username]
        roster_end = mine[0].ends_at if mine else None
    return HandoverDraft(shift_start=start, shift_end=end, on_roster=on_roster,
                         incoming=default_incoming(session, user, now, roster_end),
                         note=handover_note(session, start=start, end=end), candidates=takers(session, besides=user.username))


def get_handover(session: Session, handover_id: int) -> Handover:
    row = session.get(Handover, handover_id)
    if row is None:
        raise NotFound(f"没有编号为 {handover_id} 的交接班记录。", code="handover.not_found", params={"id": handover_id})
    return row


def recent_handovers(session: Session, *, limit: int = 20) -> list[Handover]:
    return list(session.exec(select(Handover).order_by(col(Handover.handed_over_at).desc()).limit(limit)).all())


def awaiting(session: Session, *, username: str) -> list[Handover]:
    """Handovers waiting for this person to take over."""
    return list(session.exec(select(Handover).where(Handover.incoming == username, col(Handover.confirmed_at).is_(None))
                             .order_by(col(Handover.handed_over_at))).all())


async def hand_over(*, session: Session, desk: Desk, user: User, incoming: str, remarks: str = "",
                    now: datetime | None = None) -> Handover:
    """Freeze the note and start the handover's workflow. Nothing is left if Temporal cannot be reached."""
    client = desk.require_client()
    remarks = remarks.strip()
    if len(remarks) > MAX_REMARKS:
        raise InvalidInput(f"交班说明过长，最多 {MAX_REMARKS} 字。", code="text.too_long", field="remarks",
                           params={"field": "remarks", "max": MAX_REMARKS})
    if "\x00" in remarks:
        raise InvalidInput("不能包含空字符（NUL）", code="input.nul", field="remarks")
    taker = session.exec(select(User).where(User.username == incoming, User.active == True)).first()  # noqa: E712
    if taker is None or taker.role not in ON_CITY_DUTY:
        raise InvalidInput("请从列表中选择接班人员。", code="handover.unknown_incoming", field="incoming")
    if taker.username == user.username:
        raise InvalidInput("不能交班给自己，请选择接班人员。", code="handover.to_self", field="incoming")
    open_one = session.exec(select(Handover).where(Handover.outgoing == user.username,
                                                   col(Handover.confirmed_at).is_(None))).first()
    if open_one is not None:
        name = person_name(session.exec(select(User).where(User.username == open_one.incoming)).first() or taker)
        raise Conflict(f"您已交班给 {name}，对方尚未确认接班；确认后才能再次交班。", code="handover.pending",
                       params={"incoming": name})
    now = now or datetime.now(UTC)
    start, _end, _on_roster = shift_window(session, user, now)
    rule = desk.policy.handover
    placeholder = uuid.uuid4().hex[:30]
    row = Handover(workflow_id=placeholder, outgoing=user.username, incoming=taker.username, shift_start=start,
                   shift_end=now, handed_over_at=now, confirm_due_at=now + timedelta(seconds=rule.confirm_within_seconds),
                   remarks=remarks, note=handover_note(session, start=start, end=now), status=HandoverStatus.handed_over)
    session.add(row)
    session.flush()
    assert row.id is not None
    row.workflow_id = f"handover-{row.id}-{uuid.uuid4().hex[:6]}"
    session.commit()
    try:
        await client.start_workflow(
            HandoverWorkflow.run,
            HandoverInput(handover_id=row.id, outgoing=user.username, incoming=taker.username, handed_over_at=now,
                          confirm_within_seconds=rule.confirm_within_seconds, escalate_to=list(rule.escalate_to),
                          outgoing_name=person_name(user), incoming_name=person_name(taker),
                          link=f"{desk.public_url}/handover/{row.id}",
                          retry_first_seconds=desk.policy.delivery.retry_first_seconds,
                          retry_max_seconds=desk.policy.delivery.retry_max_seconds),
            id=row.workflow_id, task_queue=desk.task_queue,
            static_summary=f"交接班 {person_name(user)} → {person_name(taker)}"[:200])
    except (RPCError, RuntimeError) as exc:
        session.exec(delete(Handover).where(col(Handover.id) == row.id))
        session.commit()
        log.warning("could not start a handover's workflow: %s", exc)
        raise EngineUnavailable() from exc
    log.info("handover %d: %s to %s", row.id, user.username, taker.username)
    return row


async def confirm_handover(*, session: Session, desk: Desk, user: User, handover_id: int) -> Handover:
    """The incoming officer takes over; the workflow checks it is them and records it before answering."""
    row = get_handover(session, handover_id)
    client = desk.require_client()
    try:
        await client.get_workflow_handle(row.workflow_id).execute_update(
            HandoverWorkflow.confirm, ConfirmHandover(actor=user.username, received_at=datetime.now(UTC)),
            id=f"confirm-{user.id}-{uuid.uuid4().hex[:8]}")
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        code, params = (refusals.code_of(cause.details) if isinstance(cause, ApplicationError) else None) or (
            "handover.conflict", {})
        raise Conflict(str(getattr(cause, "message", cause)), code=code, params=params) from exc
    except RuntimeError as exc:
        raise EngineUnavailable() from exc
    except RPCError as exc:
        if "not found" in str(exc).lower() or "already completed" in str(exc).lower():
            raise Conflict("该交接班已确认接班。", code=refusals.HANDOVER_CONFIRMED) from exc
        raise EngineUnavailable() from exc
    session.refresh(row)
    return row
