"""The post-incident review (复盘报告): what SQL knows about one incident, gathered for the report.

Plain data in codes (levels, milestone keys, tags): the words are the page's (api/web/review.py says them in
the viewer's language through the catalog, with the incident page's own timeline renderer).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from desk.models import Incident, Milestone, NotificationAttempt, Party, TimelineEvent, User
from desk.release_content import coverage
from desk.service import get_incident, timeline_rows
from desk.vocab import DELIVERED_STATUSES, DeliveryStatus, EventKind, Role

RELEASE_KINDS = (EventKind.released, EventKind.press_conference, EventKind.update)


@dataclass
class LevelChange:
    at: datetime | None  # None: the level it was opened with
    level: str
    previous: str = ""
    actor: str = ""
    reason: str = ""


@dataclass
class PartySpan:
    code: str
    name: str
    since: datetime
    until: datetime | None = None
    reason: str = ""


@dataclass
class Release:
    kind: str
    released_at: datetime | None
    recorded_at: datetime
    actor: str
    channel: str = ""
    url: str = ""
    summary: str = ""
    met: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # which of 事实 · 措施 · 结果/进展 it did not say


@dataclass
class TagDelivery:
    """The messages addressed to one tag: how many were due, how many some channel took, how many none did."""

    tag: str
    due: int = 0
    delivered: int = 0
    undelivered: int = 0  # every channel failed, or no channel answers to the tag
    failed_attempts: int = 0


@dataclass
class Attachment:
    """A file kept as evidence (证据/附件): name, sha256, when and by whom; withdrawn ones stay, with the reason."""

    name: str
    sha256: str
    at: datetime
    actor: str
    withdrawn_reason: str | None = None


@dataclass
class ReviewRecord:
    incident: Incident
    party_name: str
    milestones: list[Milestone]
    levels: list[LevelChange]
    parties: list[PartySpan]
    releases: list[Release]
    deliveries: list[TagDelivery]
    attachments: list[Attachment]
    liaisons: list[tuple[str, str]]
    names: dict[str, str]  # party code -> name
    people: dict[str, str]  # username -> display name
    events: list[TimelineEvent]
    notes: list[NotificationAttempt]


def review_record(*, session: Session, human_id: str) -> ReviewRecord:
    """Everything the review shows; raises NotFound (desk.errors) for an unknown incident."""
    incident = get_incident(session=session, human_id=human_id)
    events, notes = timeline_rows(session=session, incident=incident)
    milestones = list(session.exec(select(Milestone).where(Milestone.incident_id == incident.id)
                                   .order_by(col(Milestone.due_at))).all())
    names = {p.code: p.name for p in session.exec(select(Party)).all()}
    people = {u.username: u.display_name or u.username for u in session.exec(
        select(User).where(col(User.username).in_({e.actor for e in events} | {incident.reporter}))).all()}
    liaisons = [(u.display_name or u.username, u.phone) for u in session.exec(
        select(User).where(User.party_code == incident.party_code, User.role == Role.responder,
                           User.active == True).order_by(col(User.display_name))).all()]  # noqa: E712
    return ReviewRecord(
        incident=incident, party_name=names.get(incident.party_code, incident.party_code), milestones=milestones,
        levels=level_history(incident, events), parties=party_history(incident, events, names),
        releases=releases(events), deliveries=delivery_summary(notes), attachments=attachments(session, incident),
        liaisons=liaisons, names=names, people=people, events=events, notes=notes)


def level_history(incident: Incident, events: list[TimelineEvent]) -> list[LevelChange]:
    """The level it was opened with, then every change (a level change records from and to)."""
    changes = [e for e in events if e.kind == EventKind.level_changed]
    first = str(changes[0].payload.get("from") or incident.level) if changes else incident.level
    out = [LevelChange(at=None, level=first)]
    for e in changes:
        p = e.payload or {}
        out.append(LevelChange(at=e.at, level=str(p.get("to") or ""), previous=str(p.get("from") or ""),
                               actor=e.actor, reason=str(p.get("reason") or "")))
    return out


def party_history(incident: Incident, events: list[TimelineEvent], names: dict[str, str]) -> list[PartySpan]:
    """The responsible parties in turn: the first from the opening, then each reassignment."""
    moves = [e for e in events if e.kind == EventKind.reassigned]
    first = (moves[0].payload.get("from") or {}).get("code") if moves else incident.party_code
    first = first or incident.party_code
    spans = [PartySpan(first, names.get(first, first), incident.detected_at)]
    for e in moves:
        to = (e.payload or {}).get("to") or {}
        spans[-1].until = e.at
        code = str(to.get("code") or "")
        spans.append(PartySpan(code, names.get(code, str(to.get("name") or code)), e.at,
                               reason=str((e.payload or {}).get("reason") or "")))
    return spans


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def releases(events: list[TimelineEvent]) -> list[Release]:
    """Every release, press conference and follow-up release, in the order they happened."""
    out = []
    for e in events:
        if e.kind not in RELEASE_KINDS:
            continue
        p = e.payload or {}
        out.append(Release(kind=e.kind, released_at=_time(p.get("released_at")) or e.at, recorded_at=e.at,
                           actor=e.actor, channel=str(p.get("channel") or ""), url=str(p.get("url") or ""),
                           summary=str(p.get("summary") or ""), met=[str(k) for k in p.get("met") or []],
                           missing=coverage(p).missing))
    out.sort(key=lambda r: (r.released_at or r.recorded_at))
    return out


def delivery_summary(notes: list[NotificationAttempt]) -> list[TagDelivery]:
    """Per tag: the messages due to it (a message to several tags counts under each), those some channel took
    (delivered, or accepted without confirmation) and those no channel took, from the attempt log."""
    by_message: dict[str, dict] = {}
    for n in notes:
        m = by_message.setdefault(n.dedupe_key, {"tags": [t for t in n.tags.split(",") if t], "ok": False,
                                                 "failed": 0})
        if n.status in DELIVERED_STATUSES:
            m["ok"] = True
        elif n.status == DeliveryStatus.failed:
            m["failed"] += 1
    rows: dict[str, TagDelivery] = defaultdict(lambda: TagDelivery(""))
    for m in by_message.values():
        for tag in m["tags"]:
            row = rows[tag]
            row.tag = tag
            row.due += 1
            row.delivered += m["ok"]
            row.undelivered += not m["ok"]
            row.failed_attempts += m["failed"]
    return sorted(rows.values(), key=lambda r: (r.tag == "supervisor", r.tag.endswith("-leaders"), r.tag))


def attachments(session: Session, incident: Incident) -> list[Attachment]:
    """Every file kept as evidence for the incident, in the order they came; withdrawn ones too, with the reason."""
    from desk.models import Attachment as AttachmentRow

    rows = session.exec(select(AttachmentRow).where(AttachmentRow.incident_id == incident.id)
                        .order_by(col(AttachmentRow.created_at), col(AttachmentRow.id))).all()
    return [Attachment(r.name, r.sha256, r.created_at, r.uploaded_by,
                       (r.withdrawn_reason or "") if r.withdrawn_at is not None else None) for r in rows]
