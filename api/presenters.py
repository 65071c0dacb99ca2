"""What the JSON API and the pages show of an incident: the read model, and the deliveries a role may see."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from api.schemas import (
    IncidentOut,
    MilestoneOut,
    NotificationOut,
    PartyOut,
    SupportingOut,
    TaskOut,
    TimelineEventOut,
)
from desk.models import Incident, IncidentSupport, IncidentTask, Milestone, NotificationAttempt, Party, TimelineEvent, User
from desk.service import Opened
from desk.users import RESPONDER
from desk.vocab import SYSTEM

# One incident's rows, as statements built once: building each statement and its cache key again for every
# request was half of these reads' CPU (0.62 → 0.31 ms per incident read and presented, docs/performance.md).
_PARTY = select(Party).where(Party.code == bindparam("code"))
_MILESTONES_OF_ONE = select(Milestone).where(Milestone.incident_id == bindparam("incident_id")).order_by(col(Milestone.due_at))
_SUPPORTS_OF_ONE = (select(IncidentSupport, Party).join(Party, col(Party.code) == col(IncidentSupport.party_code))
                    .where(IncidentSupport.incident_id == bindparam("incident_id")).order_by(col(IncidentSupport.n)))
_TASKS_OF_ONE = (select(IncidentTask, Party).join(Party, col(Party.code) == col(IncidentTask.party_code))
                 .where(IncidentTask.incident_id == bindparam("incident_id")).order_by(col(IncidentTask.n)))


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    party = session.exec(_PARTY, params={"code": incident.party_code}).first()
    one = {"incident_id": incident.id}
    out = _incident_out(incident, party, list(session.exec(_MILESTONES_OF_ONE, params=one).all()))
    out.supporting = [_supporting_out(row, p) for row, p in session.exec(_SUPPORTS_OF_ONE, params=one).all()]
    out.tasks = [_task_out(task, p) for task, p in session.exec(_TASKS_OF_ONE, params=one).all()]
    return out


def opened_out(session: Session, opened: Opened) -> IncidentOut:
    """incident_out for an incident just opened, from the rows its opening wrote (nothing is read back); an
    incident found again by its Idempotency-Key is read as any other."""
    if not opened.created:
        return incident_out(session, opened.incident)
    out = _incident_out(opened.incident, opened.party, sorted(opened.milestones, key=lambda m: m.due_at))
    out.supporting = [_supporting_out(row, party) for row, party in opened.supporting]  # written in their order
    return out  # no tasks yet


def incidents_out(session: Session, incidents: list[Incident]) -> list[IncidentOut]:
    """incident_out for a page of incidents: their parties and milestones in one query each, not per row."""
    ids = [i.id for i in incidents]
    codes = {i.party_code for i in incidents}
    parties = {p.code: p for p in session.exec(select(Party).where(col(Party.code).in_(codes))).all()} if codes else {}
    milestones: dict[int | None, list[Milestone]] = {}  # looked up by Incident.id, int | None to the type checker
    if ids:
        for m in session.exec(select(Milestone).where(col(Milestone.incident_id).in_(ids))
                              .order_by(col(Milestone.due_at), col(Milestone.id))).all():
            milestones.setdefault(m.incident_id, []).append(m)
    return _with_shared(session, [_incident_out(i, parties.get(i.party_code), milestones.get(i.id, [])) for i in incidents],
                        incidents)


def _with_shared(session: Session, outs: list[IncidentOut], incidents: list[Incident]) -> list[IncidentOut]:
    """Each incident's supporting parties and tasks, one query each for the whole page."""
    ids = [i.id for i in incidents]
    if not ids:
        return outs
    supports: dict[int, list[SupportingOut]] = {}
    tasks: dict[int, list[TaskOut]] = {}
    for row, party in session.exec(select(IncidentSupport, Party).join(Party, col(Party.code) == col(IncidentSupport.party_code))
                                   .where(col(IncidentSupport.incident_id).in_(ids)).order_by(col(IncidentSupport.n))).all():
        supports.setdefault(row.incident_id, []).append(_supporting_out(row, party))
    for task, party in session.exec(select(IncidentTask, Party).join(Party, col(Party.code) == col(IncidentTask.party_code))
                                     .where(col(IncidentTask.incident_id).in_(ids)).order_by(col(IncidentTask.n))).all():
        tasks.setdefault(task.incident_id, []).append(_task_out(task, party))
    for out, incident in zip(outs, incidents, strict=True):
        out.supporting = supports.get(incident.id or 0, [])
        out.tasks = tasks.get(incident.id or 0, [])
    return outs


def _task_out(task: IncidentTask, party: Party) -> TaskOut:
    return TaskOut(
        n=task.n, party=PartyOut(code=party.code, name=party.name, kind=party.kind), text=task.text,
        due_at=task.due_at, needs_attachment=task.needs_attachment, state=task.state, met_at=task.met_at,
        done_by=task.done_by, note=task.note, attachment_sha256=task.attachment_sha256)


def _supporting_out(row: IncidentSupport, party: Party) -> SupportingOut:
    return SupportingOut(party=PartyOut(code=party.code, name=party.name, kind=party.kind), added_at=row.added_at,
                         acknowledge_due_at=row.ack_due_at, acknowledge_state=row.ack_state,
                         acknowledged_at=row.ack_met_at)


def _incident_out(incident: Incident, party: Party | None, milestones: list[Milestone]) -> IncidentOut:
    return IncidentOut(
        id=incident.human_id, title=incident.title, summary=incident.summary, source=incident.source,
        source_url=incident.source_url, category=incident.category, level=incident.level,
        party=PartyOut(code=incident.party_code, name=party.name if party else incident.party_code,
                       kind=party.kind if party else ""),
        status=incident.status, drill=incident.drill, policy=incident.policy_name, reporter=incident.reporter,
        detected_at=incident.detected_at, opened_at=incident.opened_at, closed_at=incident.closed_at,
        next_due_at=incident.next_due_at, overdue=incident.overdue,
        milestones=[MilestoneOut.model_validate(m, from_attributes=True) for m in milestones],
        merged_into=incident.merged_into,
    )


# --- what a viewer may see of the deliveries -------------------------------------------------------------

# The channel address (apprise's masked URL: user, host, path) and the senders' error texts (which name hosts)
# are for duty officers, supervisors and admins, who look after the channels. A responder sees who a message
# went to (tags), by which service, and whether it arrived.
DELIVERY_KEYS = frozenset({"milestone", "rung", "tags", "due_at", "scheduled_at", "delivered", "skipped", "matched",
                           "failed", "still_owed", "tries", "reason", "superseded"})
COUNT_KEYS = frozenset({"channels"})  # how many channels: shown as a number, never as a list of them
CHANNEL_DETAIL_HIDDEN = "部分通知渠道发送失败，渠道详情仅值班员和督办人员可见。"


def sees_channels(user: User) -> bool:
    return user.role != RESPONDER


def event_payload_for(user: User, event: TimelineEvent, hidden: str = CHANNEL_DETAIL_HIDDEN) -> dict:
    """The event's payload as this user may see it: the system's delivery events lose every key but the
    allowed ones for a responder (a failure says only that it failed). People's own entries are unchanged."""
    payload = event.payload or {}
    if sees_channels(user) or event.actor != SYSTEM:
        return payload
    shown = {k: v for k, v in payload.items()
             if k in DELIVERY_KEYS or (k in COUNT_KEYS and isinstance(v, int) and not isinstance(v, bool))}
    if payload.get("error"):
        shown["error"] = hidden
    return shown


def timeline_out(user: User, events: list[TimelineEvent], notes: list[NotificationAttempt]) -> tuple[
        list[TimelineEventOut], list[NotificationOut]]:
    """The timeline API's events and deliveries for this user (copies: the rows themselves are never changed)."""
    shown_events = [TimelineEventOut(seq=e.seq, kind=e.kind, actor=e.actor, at=e.at, payload=event_payload_for(user, e))
                    for e in events]
    shown_notes = [NotificationOut.model_validate(n, from_attributes=True) for n in notes]
    if not sees_channels(user):
        shown_notes = [n.model_copy(update={"channel": "", "error": ""}) for n in shown_notes]
    return shown_events, shown_notes
