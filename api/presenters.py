"""What the JSON API and the pages show of an incident: the read model, and the deliveries a role may see."""

from __future__ import annotations

from sqlmodel import Session, col, select

from api.schemas import IncidentOut, MilestoneOut, NotificationOut, PartyOut, TimelineEventOut
from desk.models import Incident, Milestone, NotificationAttempt, Party, TimelineEvent, User
from desk.users import RESPONDER
from desk.vocab import SYSTEM


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    party = session.get(Party, incident.party_code)
    milestones = session.exec(
        select(Milestone).where(Milestone.incident_id == incident.id).order_by(col(Milestone.due_at))
    ).all()
    return _incident_out(incident, party, list(milestones))


def incidents_out(session: Session, incidents: list[Incident]) -> list[IncidentOut]:
    """incident_out for a page of incidents: their parties and milestones in one query each, not per row."""
    ids = [i.id for i in incidents]
    codes = {i.party_code for i in incidents}
    parties = {p.code: p for p in session.exec(select(Party).where(col(Party.code).in_(codes))).all()} if codes else {}
    milestones: dict[int, list[Milestone]] = {}
    if ids:
        for m in session.exec(select(Milestone).where(col(Milestone.incident_id).in_(ids))
                              .order_by(col(Milestone.due_at), col(Milestone.id))).all():
            milestones.setdefault(m.incident_id, []).append(m)
    return [_incident_out(i, parties.get(i.party_code), milestones.get(i.id, [])) for i in incidents]


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
