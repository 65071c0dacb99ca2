"""Incident operations shared by the JSON API and the pages: open, read, act.

Opening writes the row first (so the human id exists), then starts the workflow; if Temporal cannot
be reached the row is removed again and the caller gets a clear 503: nothing is left half-made.
A crash between the two steps leaves a row without a workflow, which `opinion-desk doctor` repairs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.auth import RESPONDER
from api.schemas import IncidentCreate, IncidentOut, MilestoneOut, NotificationOut, PartyOut, TimelineEventOut
from desk import clocks as clk
from desk.messages import INVALID, IncidentFacts, IncidentInput, IncidentState
from desk.models import Incident, Milestone, NotificationAttempt, Party, TimelineEvent, User
from desk.policy import Policy
from desk.stats import invalidate as invalidate_assessments
from workflows.incident import LEVEL_ATTR, PARTY_ATTR, IncidentWorkflow

log = logging.getLogger("desk.api")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPORAL_DOWN = "流程引擎暂时无法连接，操作未执行，请稍后重试。"


@dataclass
class Desk:
    """What an incident operation needs: the policies in force, the Temporal client, where links point."""

    client: Client | None
    task_queue: str
    policy: Policy
    drill_policy: Policy
    public_url: str

    def require_client(self) -> Client:
        if self.client is None:
            raise HTTPException(503, TEMPORAL_DOWN)
        return self.client


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    party = session.get(Party, incident.party_code)
    milestones = session.exec(
        select(Milestone).where(Milestone.incident_id == incident.id).order_by(col(Milestone.due_at))
    ).all()
    return IncidentOut(
        id=incident.human_id, title=incident.title, summary=incident.summary, source=incident.source,
        source_url=incident.source_url, category=incident.category, level=incident.level,
        party=PartyOut(code=incident.party_code, name=party.name if party else incident.party_code,
                       kind=party.kind if party else ""),
        status=incident.status, drill=incident.drill, policy=incident.policy_name, reporter=incident.reporter,
        detected_at=incident.detected_at, opened_at=incident.opened_at, closed_at=incident.closed_at,
        next_due_at=incident.next_due_at, overdue=incident.overdue,
        milestones=[MilestoneOut.model_validate(m, from_attributes=True) for m in milestones],
    )


def not_found(human_id: str) -> HTTPException:
    return HTTPException(404, f"没有编号为 {human_id[:40]} 的舆情事件。")


def get_incident(session: Session, human_id: str) -> Incident:
    incident = session.exec(select(Incident).where(Incident.human_id == human_id)).first()
    if incident is None:
        raise not_found(human_id)
    return incident


def field_error(field: str, message: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", field], "field": field, "msg": message, "type": "value_error"}])


async def open_incident(session: Session, desk: Desk, data: IncidentCreate, user: User,
                        idempotency_key: str | None = None) -> tuple[Incident, bool]:
    """Open an incident and start its workflow. Returns (incident, created)."""
    client = desk.require_client()
    scoped_key = f"{user.id}:{idempotency_key}"[:200] if idempotency_key else None
    if scoped_key:
        existing = session.exec(select(Incident).where(Incident.idempotency_key == scoped_key)).first()
        if existing is not None:
            return existing, False
    party = session.get(Party, data.party)
    if party is None or not party.active:
        raise field_error("party", f"未知的责任单位代码：{data.party}")
    now = datetime.now(timezone.utc)
    detected_at = data.detected_at or now
    policy = desk.drill_policy if data.drill else desk.policy
    level = data.level.value if data.level else "IV"
    placeholder = uuid.uuid4().hex[:30]
    incident = Incident(
        human_id=placeholder, workflow_id=placeholder, title=data.title, summary=data.summary,
        source=data.source.value, source_url=data.source_url, category=data.category.value, level=level,
        party_code=party.code, drill=data.drill, policy_name=policy.name, policy_snapshot=asdict(policy),
        reporter=user.username, idempotency_key=scoped_key, detected_at=detected_at, opened_at=now,
    )
    session.add(incident)
    try:
        session.flush()
    except IntegrityError:  # the same Idempotency-Key raced us: answer with the incident it made
        session.rollback()
        existing = session.exec(select(Incident).where(Incident.idempotency_key == scoped_key)).first()
        if existing is None:
            raise
        return existing, False
    incident.human_id = f"YQ-{now.astimezone(SHANGHAI).year}-{incident.id:06d}"
    # The random tail keeps ids unique even if the database is ever reset while Temporal keeps history.
    incident.workflow_id = f"incident-{incident.human_id}-{uuid.uuid4().hex[:6]}"
    clocks = clk.open_clocks(policy, level, detected_at, now)
    incident.next_due_at = min(c.due_at for c in clocks) if clocks else None
    for c in clocks:
        session.add(Milestone(incident_id=incident.id, key=c.key, label=c.label, due_at=c.due_at))
    # The first timeline event goes in with the row: the workflow starts after it (seq 1), so opening
    # costs the worker no activity, and the timeline is never without its "opened" entry.
    session.add(TimelineEvent(
        incident_id=incident.id, event_key=f"{incident.workflow_id}/1", seq=1, kind="opened",
        actor=user.username, at=now, payload={"policy": policy.name,
                                              "deadlines": {c.key: c.due_at.isoformat() for c in clocks}},
    ))
    incident.version = 1
    session.commit()
    invalidate_assessments()
    try:
        await start_incident_workflow(client, incident, party, policy, desk.public_url, desk.task_queue,
                                      opened_recorded=True)
    except (RPCError, RuntimeError) as exc:  # RuntimeError: a lazy client that never reached the server
        _remove_unstarted(session, incident)
        log.warning("could not start the workflow of a new incident: %s", exc, extra={"incident": incident.human_id})
        raise HTTPException(503, TEMPORAL_DOWN) from exc
    log.info("opened level %s for %s by %s", level, party.code, user.username,
             extra={"incident": incident.human_id, "drill": data.drill})
    # The commit gave the connection back; take one again off the event loop, so that the caller's
    # reads never wait for a busy pool on the loop (which would stall every request in flight).
    await asyncio.to_thread(session.connection)
    return incident, True


def incident_facts(incident: Incident, party: Party) -> IncidentFacts:
    """What the workflow knows of the incident, as the row says now (current party and level)."""
    return IncidentFacts(
        incident_id=incident.id, human_id=incident.human_id, title=incident.title, category=incident.category,
        level=incident.level, party_code=party.code, party_name=party.name, detected_at=incident.detected_at,
        opened_at=incident.opened_at, reporter=incident.reporter, drill=incident.drill, summary=incident.summary,
        source=incident.source, source_url=incident.source_url,
    )


async def start_incident_workflow(client: Client, incident: Incident, party: Party, policy: Policy,
                                  public_url: str, task_queue: str, *, opened_recorded: bool = False,
                                  state: IncidentState | None = None) -> bool:
    """Start the incident's workflow from its row (opening, or `opinion-desk doctor` repairing a lost
    workflow). Returns False if it was already running: starting twice is harmless.
    ``opened_recorded``: the row's "opened" event (seq 1) is already in the timeline.
    ``state``: rebuilt from SQL by the doctor; the run takes it as a continued run (clocks as given, no
    "opened" event, the timeline continuing after its last event)."""
    facts = state.facts if state is not None else incident_facts(incident, party)
    try:
        await client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(facts=facts, policy=policy, public_url=public_url, opened_recorded=opened_recorded,
                          state=state),
            id=incident.workflow_id, task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(PARTY_ATTR, party.code),
                                                     SearchAttributePair(LEVEL_ATTR, incident.level)]),
            static_summary=f"{incident.human_id} {incident.title}"[:200],
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def _remove_unstarted(session: Session, incident: Incident) -> None:
    session.exec(delete(TimelineEvent).where(TimelineEvent.incident_id == incident.id))
    session.exec(delete(Milestone).where(Milestone.incident_id == incident.id))
    session.exec(delete(Incident).where(Incident.id == incident.id))
    session.commit()
    invalidate_assessments()


async def act(desk: Desk, incident: Incident, update: Any, command: Any, *, user: User | None = None,
              idempotency_key: str | None = None) -> bool:
    """Run one human action as a workflow update; its validator's refusal becomes a 409 or 422.

    The action is stamped with the time it was received here (the workflow dates it by that), and runs as
    the update whose id comes from the request's ``Idempotency-Key`` (scoped to the user and incident):
    a retried request is the same update, answered again, never applied twice.

    Returns True when the action's timeline event is in SQL, False when it took effect in the workflow
    but the database was away (it is written, in order, when the database is back).
    """
    client = desk.require_client()
    handle = client.get_workflow_handle(incident.workflow_id)
    name = getattr(update, "__name__", str(update))
    command = replace(command, received_at=datetime.now(timezone.utc))
    if idempotency_key:
        scope = f"{incident.workflow_id}|{user.id if user else ''}|{name}|{idempotency_key}"
        update_id = f"{name}-{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    else:
        update_id = f"{name}-{uuid.uuid4().hex}"
    try:
        state = await handle.execute_update(update, command, id=update_id)
        log.info("%s by %s", name, getattr(command, "actor", ""), extra={"incident": incident.human_id})
        return not any(e.event_key.endswith(f"/u/{update_id}") for e in state.outbox)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise HTTPException(422 if cause.type == INVALID else 409, cause.message) from exc
        raise HTTPException(409, str(cause)) from exc
    except RuntimeError as exc:  # a lazy client that never reached the server
        raise HTTPException(503, TEMPORAL_DOWN) from exc
    except RPCError as exc:
        if "not found" in str(exc).lower() or "already completed" in str(exc).lower():
            raise HTTPException(409, "该事件的处理流程已结束（结案超过可重新打开期限），不能再操作。") from exc
        raise HTTPException(503, TEMPORAL_DOWN) from exc


def timeline_rows(session: Session, incident: Incident) -> tuple[list[TimelineEvent], list[NotificationAttempt]]:
    events = session.exec(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(col(TimelineEvent.seq))
    ).all()
    notes = session.exec(
        select(NotificationAttempt).where(NotificationAttempt.incident_id == incident.id)
        .order_by(col(NotificationAttempt.at), col(NotificationAttempt.id))
    ).all()
    return list(events), list(notes)



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
    if sees_channels(user) or event.actor != "system":
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
