"""Write the timeline and the incident's read model to SQL, idempotently.

The event key is unique, so a retried activity finds its event already written and does nothing;
the event and the read model are written in one transaction, so they never disagree.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select
from temporalio import activity

from desk import clocks as clk
from desk.db import session_scope
from desk.messages import RecordEvent
from desk.models import Incident, Milestone, TimelineEvent, utcnow

log = logging.getLogger("desk.records")


class Recorder:
    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url

    @activity.defn(name="record_event")
    def record_event(self, r: RecordEvent) -> None:
        with session_scope(self.database_url) as session:
            exists = session.exec(select(TimelineEvent.id).where(TimelineEvent.event_key == r.entry.event_key)).first()
            if exists is not None:
                return
            incident = upsert_incident(session, r)
            session.add(TimelineEvent(
                incident_id=incident.id, event_key=r.entry.event_key, seq=r.entry.seq, kind=r.entry.kind,
                actor=r.entry.actor, at=r.entry.at, payload=r.entry.payload,
            ))
            session.commit()
        log.info("recorded %s #%d by %s", r.entry.kind, r.entry.seq, r.entry.actor or "system",
                 extra={"incident": r.state.facts.human_id, "event": r.entry.kind})


def upsert_incident(session: Session, r: RecordEvent) -> Incident:
    """Bring the read model up to the workflow's state, unless a newer state is already there."""
    state, facts = r.state, r.state.facts
    # Lock the row: an update's event and the run's "opened" can be recorded at the same moment, and on
    # PostgreSQL the older snapshot would otherwise overwrite the newer one (the version check below
    # must see the other transaction's commit). SQLite serialises writers anyway and ignores FOR UPDATE.
    incident = session.get(Incident, facts.incident_id, with_for_update=True)
    if incident is None:  # the workflow outlived its row (restored database): rebuild it from the facts
        incident = Incident(
            id=facts.incident_id, human_id=facts.human_id, workflow_id=activity.info().workflow_id,
            title=facts.title, summary=facts.summary, source=facts.source, source_url=facts.source_url,
            category=facts.category, level=facts.level, party_code=facts.party_code, drill=facts.drill,
            reporter=facts.reporter, detected_at=facts.detected_at, opened_at=facts.opened_at,
            policy_name=r.policy_name,
        )
        session.add(incident)
        session.flush()
    if incident.version > state.event_seq:
        return incident
    open_clocks = [c for c in state.clocks if c.open]
    incident.level = facts.level
    incident.party_code = facts.party_code
    incident.status = state.status
    incident.closed_at = state.closed_at
    incident.next_due_at = min((c.due_at for c in open_clocks), default=None)
    incident.overdue = any(c.state == clk.OVERDUE for c in open_clocks)
    incident.version = state.event_seq
    incident.updated_at = utcnow()
    rows = {m.key: m for m in session.exec(select(Milestone).where(Milestone.incident_id == incident.id)).all()}
    keep = {c.key for c in state.clocks}
    for key, row in rows.items():
        if key not in keep:
            session.delete(row)
    for clock in state.clocks:
        row = rows.get(clock.key) or Milestone(incident_id=incident.id, key=clock.key, due_at=clock.due_at)
        row.label, row.due_at, row.state = clock.label, clock.due_at, clock.state
        row.met_at, row.waived_reason = clock.met_at, clock.waived_reason
        session.add(row)
    session.add(incident)
    return incident
