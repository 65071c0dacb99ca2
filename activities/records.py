"""Write the timeline, the notification log and the incident's read model to SQL, idempotently.

The event key names the event (and an attempt's key the rung, channel and try), so a retried write finds
what it wrote already and adds nothing; an existing key with other content is a bug that would lose an
event, and fails loudly instead of being skipped. Events, attempts and the read model go in one
transaction, so they never disagree.
"""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from desk import clocks as clk
from desk import ids, search
from desk.db import session_scope
from desk.messages import AttemptLog, HandoverRecord, IncidentState, RecordBatch, RecordEvent, TimelineEntry
from desk.models import (
    Attachment,
    Handover,
    Incident,
    IncidentLink,
    IncidentSupport,
    IncidentTask,
    Milestone,
    NotificationAttempt,
    NotificationDelivery,
    TimelineEvent,
    utcnow,
)
from desk.stats import cache as stats_cache
from desk.vocab import DELIVERED_STATUSES, SYSTEM, EventKind, HandoverStatus

log = logging.getLogger("desk.records")

# The tables record_batch writes with statements rather than the ORM's unit of work (SQLModel sets __table__).
INCIDENTS: sa.Table = Incident.__table__  # type: ignore[attr-defined]
MILESTONES: sa.Table = Milestone.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = TimelineEvent.__table__  # type: ignore[attr-defined]
MILESTONE_UPDATE = sa.update(MILESTONES).where(MILESTONES.c.id == sa.bindparam("row_id"))
# The rest of record_batch's statements, built once: building a statement and its cache key again for every batch
# was a third of record_batch's CPU (docs/performance.md, issue 17's eleventh round).
_EVENTS_BY_KEY = sa.select(EVENTS.c.event_key, EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.payload).where(
    EVENTS.c.event_key.in_(sa.bindparam("keys", expanding=True)))
_EVENT_INSERT = sa.insert(EVENTS)
_VERSION_LOCKED = sa.select(INCIDENTS.c.version).where(INCIDENTS.c.id == sa.bindparam("incident_id")).with_for_update()
# The SET clause comes from the parameters' keys (always the same ones: _bring_up_to_date).
_INCIDENT_UPDATE = sa.update(INCIDENTS).where(INCIDENTS.c.id == sa.bindparam("incident_id"))
_MILESTONES_OF = sa.select(
    MILESTONES.c.id, MILESTONES.c.key, MILESTONES.c.label, MILESTONES.c.due_at, MILESTONES.c.state, MILESTONES.c.met_at,
    MILESTONES.c.waived_reason).where(MILESTONES.c.incident_id == sa.bindparam("incident_id"))
_MILESTONE_INSERT = sa.insert(MILESTONES)
_INCIDENT_BY_ID = select(Incident).where(Incident.id == sa.bindparam("incident_id"))


class Recorder:
    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url

    @activity.defn(name="record_event")
    def record_event(self, r: RecordEvent) -> None:
        with session_scope(self.database_url) as session:
            exists = session.exec(select(TimelineEvent.id).where(TimelineEvent.event_key == r.entry.event_key)).first()
            if exists is not None:
                return
            incident, rebuilt = upsert_incident(session, r)
            assert incident.id is not None  # read or flushed by upsert_incident
            session.add(TimelineEvent(
                incident_id=incident.id, event_key=r.entry.event_key, seq=r.entry.seq, kind=r.entry.kind,
                actor=r.entry.actor, at=r.entry.at, payload=r.entry.payload,
            ))
            if rebuilt or search.touches_document([r.entry.kind]):
                session.flush()
                search.write_document(session, incident)
            session.commit()
        stats_cache.invalidate()
        log.info("recorded %s #%d by %s", r.entry.kind, r.entry.seq, r.entry.actor or SYSTEM,
                 extra={"incident": r.state.facts.human_id, "event": r.entry.kind})


    @activity.defn(name="record_handover")
    def record_handover(self, r: HandoverRecord) -> None:
        """Confirmation and escalation each set once (a retry finds them set); attempts appended by their key."""
        with session_scope(self.database_url) as session:
            row = session.exec(select(Handover).where(Handover.id == r.handover_id).with_for_update()).first()
            if row is None:
                raise ApplicationError(f"handover {r.handover_id} has no row", non_retryable=True)
            if r.confirmed_at is not None and row.confirmed_at is None:
                row.confirmed_at, row.status = r.confirmed_at, HandoverStatus.confirmed
            if r.escalated_at is not None and row.escalated_at is None:
                row.escalated_at = r.escalated_at
                if row.confirmed_at is None:
                    row.status = HandoverStatus.escalated
            logged = {a.get("attempt_key") for a in row.escalation}
            new = [json.loads(json.dumps(a.__dict__, default=str)) for a in r.attempts if a.attempt_key not in logged]
            if new:
                row.escalation = [*row.escalation, *new]  # a new list: the JSON column sees the change
            session.add(row)
            session.commit()
        log.info("handover %d: %s", r.handover_id, "confirmed" if r.confirmed_at else f"{len(r.attempts)} attempt(s)")

    @activity.defn(name="record_batch")
    def record_batch(self, b: RecordBatch) -> None:
        with session_scope(self.database_url) as session:
            conn = session.connection()  # the session's transaction: the statements below and its ORM rows commit together
            keys = [e.event_key for e in b.entries]
            existing = {r.event_key: r for r in conn.execute(_EVENTS_BY_KEY, {"keys": keys})} if keys else {}
            incident_id = b.state.facts.incident_id
            rebuilt = not _bring_up_to_date(session, b.state)
            incident: Incident | None = None
            if rebuilt:  # the workflow outlived its row (restored database): rebuilt from the facts
                incident, _ = upsert_incident(session, b)
            new = []
            for entry in b.entries:
                found = existing.get(entry.event_key)
                if found is not None:
                    _same_event(found, entry)
                    continue
                new.append(dict(incident_id=incident_id, event_key=entry.event_key, seq=entry.seq, kind=entry.kind,
                                actor=entry.actor, at=entry.at, payload=entry.payload))
            if new:
                conn.execute(_EVENT_INSERT, new)
            for entry in b.entries:
                if entry.event_key in existing:
                    continue
                _attachment(session, incident_id, entry)
                if entry.kind == EventKind.linked:
                    _link(session, incident_id, entry)
            _log_attempts(session, incident_id, b.attempts)
            # The search document holds the notes and release summaries: rewritten with them, in this transaction.
            if rebuilt or search.touches_document([e.kind for e in b.entries if e.event_key not in existing]):
                session.flush()
                incident = incident or session.exec(_INCIDENT_BY_ID, params={"incident_id": incident_id}).one()
                assert incident is not None  # updated above, in this transaction
                search.write_document(session, incident)
            session.commit()
        stats_cache.invalidate()
        for entry in b.entries:
            log.info("recorded %s #%d by %s", entry.kind, entry.seq, entry.actor or SYSTEM,
                     extra={"incident": b.state.facts.human_id, "event": entry.kind})


def _same_event(found: TimelineEvent | sa.Row, entry: TimelineEntry) -> None:
    """The same key must be the same event; anything else would silently lose one of the two."""
    def norm(payload: dict) -> str:
        return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)

    if (found.kind, found.actor, norm(found.payload)) != (entry.kind, entry.actor, norm(entry.payload)):
        log.error("timeline key %s already holds another event (%s, not %s): not written", entry.event_key,
                  found.kind, entry.kind)
        raise ApplicationError(f"timeline key {entry.event_key} already holds another event "
                               f"({found.kind} #{found.seq}, not {entry.kind} #{entry.seq})", type="TimelineKeyConflict")


def _attachment(session: Session, incident_id: int, entry: TimelineEntry) -> None:
    """An attachment's row goes in with its event (and its withdrawal with that one): never one without the other."""
    p = entry.payload
    if entry.kind == EventKind.attachment_added:
        if session.exec(select(Attachment.id).where(Attachment.key == p["attachment"])).first() is None:
            session.add(Attachment(
                key=p["attachment"], incident_id=incident_id, sha256=p["sha256"], size=p["size"],
                content_type=p["content_type"], name=p["name"], thumb_sha256=p.get("thumb_sha256") or None,
                uploaded_by=entry.actor, created_at=entry.at))
    elif entry.kind == EventKind.attachment_withdrawn:
        row = session.exec(select(Attachment).where(Attachment.key == p["attachment"])).first()
        if row is not None and row.withdrawn_at is None:
            row.withdrawn_at, row.withdrawn_by, row.withdrawn_reason = entry.at, entry.actor, p.get("reason") or ""
            session.add(row)


def _link(session: Session, incident_id: int, entry: TimelineEntry) -> None:
    """The link row of a "linked" event, in its transaction: one per pair, whichever side it was made on."""
    other = int(entry.payload["other_id"])
    low, high = min(incident_id, other), max(incident_id, other)
    if session.exec(select(IncidentLink.id).where(IncidentLink.incident_id == low,
                                                  IncidentLink.related_id == high)).first() is None:
        session.add(IncidentLink(incident_id=low, related_id=high, actor=entry.actor, at=entry.at))


def _log_attempts(session: Session, incident_id: int, attempts: list[AttemptLog]) -> None:
    """The attempt log, and the ledger brought up to what was delivered (a send made while the database was
    away could not claim or finish its row)."""
    if not attempts:
        return
    keys = [a.attempt_key for a in attempts]
    logged = set(session.exec(select(NotificationAttempt.attempt_key).where(
        col(NotificationAttempt.attempt_key).in_(keys))).all())
    for a in attempts:
        if a.attempt_key in logged:
            continue
        session.add(NotificationAttempt(
            incident_id=incident_id, attempt_key=a.attempt_key, dedupe_key=a.dedupe_key, kind=a.kind, tags=a.tags,
            channel_id=a.channel_id, channel=a.channel, service=a.service, attempt=a.attempt, status=a.status,
            error=a.error, at=a.at))
    delivered = [a for a in attempts if a.status in DELIVERED_STATUSES]
    if not delivered:
        return
    session.flush()
    ledger = {(r.dedupe_key, r.channel_id): r for r in session.exec(select(NotificationDelivery).where(
        col(NotificationDelivery.dedupe_key).in_({a.dedupe_key for a in delivered}))).all()}
    now = utcnow()
    for a in delivered:
        row = ledger.get((a.dedupe_key, a.channel_id))
        if row is None:
            session.add(NotificationDelivery(incident_id=incident_id, dedupe_key=a.dedupe_key,
                                             channel_id=a.channel_id, status=a.status, claimed_at=a.at,
                                             updated_at=now))
        elif row.status not in DELIVERED_STATUSES:
            session.execute(update(NotificationDelivery).where(col(NotificationDelivery.id) == row.id)
                            .values(status=a.status, updated_at=now))


def _bring_up_to_date(session: Session, state: IncidentState) -> bool:
    """The read model brought to the state, as statements on the session's connection. A batch is written for every
    action, rung and message; through the ORM's unit of work, record_batch was a third of the worker's CPU per
    cached acknowledgement (docs/performance.md, issue 17's ninth round). The same reads and writes: the row
    locked, skipped when a newer state is there, the lead milestones brought to the state's, the supporting
    parties and tasks through the ORM (rare). False when the incident's row is missing (upsert_incident rebuilds it).
    Lock the row: an update's event and the run's "opened" can be recorded at the same moment, and on PostgreSQL
    the older snapshot would otherwise overwrite the newer one (the version check must see the other
    transaction's commit)."""
    facts = state.facts
    conn = session.connection()
    # SQLite serialises writers anyway and ignores FOR UPDATE.
    version = conn.execute(_VERSION_LOCKED, {"incident_id": facts.incident_id}).scalar()
    if version is None:
        return False
    if version > state.event_seq:
        return True
    lead_clocks = clk.lead_clocks(state.clocks)
    open_clocks = [c for c in lead_clocks if c.open]
    conn.execute(_INCIDENT_UPDATE, dict(
        incident_id=facts.incident_id, level=facts.level, party_code=facts.party_code, status=state.status,
        closed_at=state.closed_at,
        merged_into=state.merged_into or None, next_due_at=min((c.due_at for c in open_clocks), default=None),
        overdue=any(c.state == clk.OVERDUE for c in open_clocks), version=state.event_seq, updated_at=utcnow()))
    rows = {r.key: r for r in conn.execute(_MILESTONES_OF, {"incident_id": facts.incident_id})}
    keep = {c.key for c in lead_clocks}
    gone = [row.id for key, row in rows.items() if key not in keep]
    if gone:
        conn.execute(sa.delete(MILESTONES).where(MILESTONES.c.id.in_(gone)))
    added, changed = [], []
    for clock in lead_clocks:
        values = dict(label=clock.label, due_at=clock.due_at, state=clock.state, met_at=clock.met_at,
                      waived_reason=clock.waived_reason)
        row = rows.get(clock.key)
        if row is None:
            added.append(dict(incident_id=facts.incident_id, key=clock.key, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            changed.append(dict(row_id=row.id, **values))
    if added:
        conn.execute(_MILESTONE_INSERT, added)
    if changed:
        conn.execute(MILESTONE_UPDATE, changed)
    _upsert_shared(session, facts.incident_id, state)
    return True


def upsert_incident(session: Session, r: RecordEvent | RecordBatch) -> tuple[Incident, bool]:
    """Bring the read model up to the workflow's state, unless a newer state is already there. Returns the row,
    and whether it had to be rebuilt from the facts (the row was gone)."""
    if _bring_up_to_date(session, r.state):
        incident = session.get(Incident, r.state.facts.incident_id)
        assert incident is not None  # locked and updated just now, in this transaction
        return incident, False
    facts = r.state.facts
    workflow_id = activity.info().workflow_id  # the workflow outlived its row (restored database): rebuilt
    assert workflow_id is not None  # recorded by the incident's workflow
    incident = Incident(
        id=facts.incident_id, human_id=facts.human_id, workflow_id=workflow_id,
        title=facts.title, summary=facts.summary, source=facts.source, source_url=facts.source_url,
        category=facts.category, level=facts.level, party_code=facts.party_code, drill=facts.drill,
        reporter=facts.reporter, detected_at=facts.detected_at, opened_at=facts.opened_at,
        policy_name=r.policy_name,
    )
    session.add(incident)
    session.flush()
    if not _bring_up_to_date(session, r.state):  # the row is there now: its state and milestones follow
        raise RuntimeError(f"incident {facts.incident_id}: its row was written but cannot be read back")
    session.refresh(incident)
    return incident, True


def _upsert_shared(session: Session, incident_id: int, state: IncidentState) -> None:
    """The supporting parties and tasks, each with its clock's state (rows are added, never removed)."""
    if not state.supporting and not state.tasks:
        return
    clocks = {c.key: c for c in state.clocks}
    supporters = {r.party_code: r for r in session.exec(
        select(IncidentSupport).where(IncidentSupport.incident_id == incident_id)).all()}
    for named in state.supporting:
        row = supporters.get(named.party_code) or IncidentSupport(
            incident_id=incident_id, party_code=named.party_code, n=named.n, added_at=named.added_at,
            added_by=named.added_by)
        clock = clocks.get(ids.supporting_clock_key(named.n))
        if clock is not None:
            row.ack_due_at, row.ack_state, row.ack_met_at = clock.due_at, clock.state, clock.met_at
            row.ack_waived_reason = clock.waived_reason
        session.add(row)
    tasks = {r.n: r for r in session.exec(select(IncidentTask).where(IncidentTask.incident_id == incident_id)).all()}
    for task in state.tasks:
        task_row = tasks.get(task.n) or IncidentTask(
            incident_id=incident_id, n=task.n, party_code=task.party_code, text=task.text, due_at=task.due_at,
            needs_attachment=task.needs_attachment, assigned_by=task.assigned_by, assigned_at=task.assigned_at)
        clock = clocks.get(ids.task_clock_key(task.n))
        if clock is not None:
            task_row.state, task_row.met_at, task_row.waived_reason = clock.state, clock.met_at, clock.waived_reason
        task_row.done_by, task_row.note, task_row.attachment_sha256 = task.done_by, task.done_note, task.attachment
        session.add(task_row)
