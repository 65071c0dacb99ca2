"""The incident service, shared by the JSON API, the pages and `opinion-desk doctor`: open, read, act.

No HTTP here: functions take keyword arguments and return values or raise desk.errors (the JSON routes
and the pages each turn those into a response in one place).

Opening writes the row first (so the human id exists), then starts the workflow; if Temporal cannot
be reached the row is removed again and the caller gets EngineUnavailable: nothing is left half-made.
A crash between the two steps leaves a row without a workflow, which `opinion-desk doctor` repairs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from desk import clocks as clk
from desk import ids, refusals, search
from desk.errors import (
    Conflict,
    EngineUnavailable,
    InvalidInput,
    incident_not_found,
    unknown_holiday_year,
    unknown_party,
)
from desk.messages import INVALID, IncidentFacts, IncidentInput, IncidentState, SupportingParty
from desk.models import (
    Incident,
    IncidentSupport,
    IncidentTask,
    Milestone,
    NotificationAttempt,
    Party,
    TimelineEvent,
    User,
)
from desk.policy import LEVELS, Policy
from desk.stats import invalidate as invalidate_assessments
from desk.timefmt import SHANGHAI
from desk.users import RESPONDER
from desk.vocab import EventKind, Level
from desk.workdays import UnknownYear
from workflows.incident import PATCH_LEVEL, IncidentWorkflow

log = logging.getLogger("desk.api")
WORKFLOW_ENDED = "该事件的处理流程已结束（结案超过可重新打开期限），不能再操作。"
RELEASE_BEFORE_DETECTED = "发布时间早于舆情发现时间，请核对后重新填写。"
SUPPORT_IS_LEAD = "配合单位不能与牵头单位相同。"
LEAD, SUPPORTING = "lead", "supporting"  # a responder's part in an incident (party_role)


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
            raise EngineUnavailable()
        return self.client


class IncidentDraft(Protocol):
    """What opening needs to know (the API's IncidentCreate is one; its validation is done before)."""

    title: str
    summary: str
    source: Any  # an enum with .value
    source_url: str
    category: Any  # an enum with .value
    level: Any  # an enum with .value, or None: ungraded (IV)
    party: str
    drill: bool
    detected_at: datetime | None
    supporting: list[str]  # supporting parties' codes (配合单位)


_BY_HUMAN_ID = select(Incident).where(Incident.human_id == bindparam("human_id"))  # built once (api/presenters.py)


def get_incident(*, session: Session, human_id: str) -> Incident:
    incident = session.exec(_BY_HUMAN_ID, params={"human_id": human_id}).first()
    if incident is None:
        raise incident_not_found(human_id)
    return incident


_AGAIN_BY_ID = select(Incident).where(Incident.id == bindparam("incident_id")).execution_options(populate_existing=True)


def read_again(session: Session, incident: Incident) -> Incident:
    """The incident's row as SQL has it now (after an action the worker recorded): ``session.refresh``, with a
    statement built once (refresh builds its query for every call: a tenth of the API's CPU per action, issue 17's
    eleventh round)."""
    return session.exec(_AGAIN_BY_ID, params={"incident_id": incident.id}).one()


def visible_to(query: Any, user: User) -> Any:
    """The one visibility rule, as a filter on a query over Incident: a responder sees the incidents its party
    leads or supports; every other role sees all."""
    if user.role != RESPONDER:
        return query
    supported = select(IncidentSupport.incident_id).where(IncidentSupport.party_code == user.party_code)
    return query.where(or_(col(Incident.party_code) == user.party_code, col(Incident.id).in_(supported)))


def can_see(*, session: Session, user: User, incident: Incident) -> bool:
    """visible_to, for one incident (its lead party's own responders without a query)."""
    if user.role != RESPONDER or incident.party_code == user.party_code:
        return True
    return session.exec(visible_to(select(Incident.id).where(Incident.id == incident.id), user)).first() is not None


def party_role(*, session: Session, user: User, incident: Incident) -> str | None:
    """A responder's part in the incident: LEAD (its party is responsible), SUPPORTING, or None (not a responder,
    or not involved)."""
    if user.role != RESPONDER:
        return None
    if incident.party_code == user.party_code:
        return LEAD
    row = session.exec(select(IncidentSupport.id).where(IncidentSupport.incident_id == incident.id,
                                                        IncidentSupport.party_code == user.party_code)).first()
    return SUPPORTING if row is not None else None


def supporting_parties(*, session: Session, incident: Incident) -> list[tuple[IncidentSupport, str]]:
    """The incident's supporting parties with their names, in the order added."""
    rows = session.exec(select(IncidentSupport, Party.name).join(Party, col(Party.code) == col(IncidentSupport.party_code))
                        .where(IncidentSupport.incident_id == incident.id).order_by(col(IncidentSupport.n))).all()
    return [(row, name) for row, name in rows]


def incident_tasks(*, session: Session, incident: Incident) -> list[tuple[IncidentTask, str]]:
    """The incident's tasks with their parties' names, in the order assigned."""
    rows = session.exec(select(IncidentTask, Party.name).join(Party, col(Party.code) == col(IncidentTask.party_code))
                        .where(IncidentTask.incident_id == incident.id).order_by(col(IncidentTask.n))).all()
    return [(row, name) for row, name in rows]


def _supporting_at_opening(session: Session, lead: Party, codes: list[str]) -> list[Party]:
    parties: list[Party] = []
    for code in codes:
        if code == lead.code:
            raise InvalidInput(SUPPORT_IS_LEAD, code=refusals.SUPPORT_IS_LEAD, field="supporting", params={"party": code})
        try:
            party = active_party(session=session, code=code)
        except InvalidInput as exc:
            exc.field = "supporting"
            raise
        if party not in parties:
            parties.append(party)
    return parties


def active_party(*, session: Session, code: str) -> Party:
    """The party with this code, if it still takes incidents; else InvalidInput on the party field."""
    party = session.get(Party, code)
    if party is None or not party.active:
        raise unknown_party(code)
    return party


def incident_policy(policy: Policy, detected_at: datetime) -> Policy:
    """The policy snapshot an incident detected at ``detected_at`` runs under: its holiday calendar cut to the
    years from the detection on (the deadlines never fall earlier), and every level's deadlines checked to lie
    in years the calendar knows, so that a level change inside the workflow can always count them.
    Raises InvalidInput (field detected_at) naming the unknown year."""
    if policy.calendar is None:
        return policy
    policy = replace(policy, calendar=policy.calendar.since(detected_at.astimezone(SHANGHAI).year))
    try:
        for level in LEVELS:
            clk.deadlines(policy, level, detected_at)
    except UnknownYear as exc:
        raise unknown_holiday_year(exc.year, str(exc)) from None
    return policy


def check_release_time(*, incident: Incident, released_at: datetime | None) -> None:
    """A release cannot predate the incident's detection (the workflow says the same; this answers first)."""
    if released_at is not None and released_at < incident.detected_at:
        raise InvalidInput(RELEASE_BEFORE_DETECTED, code=refusals.RELEASE_BEFORE_DETECTED, field="released_at")


@dataclass(frozen=True)
class Opened:
    """An incident opened, or found again by its Idempotency-Key (created False). When this call made it, the
    rows it wrote come with it (the lead party, the milestones, each supporting party's row and party), so the
    caller can answer from them without reading them back."""

    incident: Incident
    created: bool
    party: Party | None = None
    milestones: tuple[Milestone, ...] = ()
    supporting: tuple[tuple[IncidentSupport, Party], ...] = ()


async def open_incident(*, session: Session, desk: Desk, data: IncidentDraft, user: User,
                        idempotency_key: str | None = None) -> Opened:
    """Open an incident and start its workflow.

    The session's connection is given back at the commit: a caller that reads again takes one with
    `reconnect` first, off the event loop."""
    client = desk.require_client()
    scoped_key = f"{user.id}:{idempotency_key}"[:200] if idempotency_key else None
    if scoped_key:
        existing = session.exec(select(Incident).where(Incident.idempotency_key == scoped_key)).first()
        if existing is not None:
            return Opened(existing, created=False)
    party = active_party(session=session, code=data.party)
    supporting = _supporting_at_opening(session, party, list(getattr(data, "supporting", None) or []))
    now = datetime.now(UTC)
    detected_at = data.detected_at or now
    policy = incident_policy(desk.drill_policy if data.drill else desk.policy, detected_at)
    level = data.level.value if data.level else Level.IV.value
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
        return Opened(existing, created=False)
    assert incident.id is not None  # the flush gave the row its id
    incident.human_id = ids.human_id(now.astimezone(SHANGHAI).year, incident.id)
    # The random tail keeps ids unique even if the database is ever reset while Temporal keeps history.
    incident.workflow_id = ids.workflow_id(incident.human_id, uuid.uuid4().hex[:6])
    clocks = clk.open_clocks(policy, level, detected_at, now)
    incident.next_due_at = min(c.due_at for c in clocks) if clocks else None
    milestones = tuple(Milestone(incident_id=incident.id, key=c.key, label=c.label, due_at=c.due_at) for c in clocks)
    session.add_all(milestones)
    # Supporting parties named at opening see the incident at once; the workflow keeps their clocks current.
    named = [SupportingParty(n=i, party_code=p.code, party_name=p.name, added_at=now, added_by=user.username)
             for i, p in enumerate(supporting, 1)]
    support_rows: list[tuple[IncidentSupport, Party]] = []
    for s, supporter in zip(named, supporting, strict=True):
        ack = clk.supporting_clock(policy, level, s.n, s.party_code, detected_at, now)
        support_rows.append((IncidentSupport(incident_id=incident.id, party_code=s.party_code, n=s.n, added_at=now,
                                             added_by=user.username, ack_due_at=ack.due_at if ack else None,
                                             ack_state=ack.state if ack else None), supporter))
        session.add(support_rows[-1][0])
    # The first timeline event goes in with the row: the workflow starts after it (seq 1), so opening
    # costs the worker no activity, and the timeline is never without its "opened" entry.
    session.add(TimelineEvent(
        incident_id=incident.id, event_key=ids.seq_event_key(incident.workflow_id, 1), seq=1, kind=EventKind.opened,
        actor=user.username, at=now, payload={"policy": policy.name,
                                              "deadlines": {c.key: c.due_at.isoformat() for c in clocks}},
    ))
    incident.version = 1
    search.write_document(session, incident, new=True)
    session.commit()
    invalidate_assessments()
    try:
        await start_incident_workflow(client=client, incident=incident, party=party, policy=policy,
                                      public_url=desk.public_url, task_queue=desk.task_queue, opened_recorded=True,
                                      supporting=named)
    except (RPCError, RuntimeError) as exc:  # RuntimeError: a lazy client that never reached the server
        _remove_unstarted(session, incident)
        log.warning("could not start the workflow of a new incident: %s", exc, extra={"incident": incident.human_id})
        raise EngineUnavailable() from exc
    log.info("opened level %s for %s by %s", level, party.code, user.username,
             extra={"incident": incident.human_id, "drill": data.drill})
    return Opened(incident, created=True, party=party, milestones=milestones, supporting=tuple(support_rows))


async def reconnect(session: Session) -> None:
    """After a commit gave the connection back: take one again off the event loop, so that the caller's next
    reads never wait for a busy pool on the loop (which would stall every request in flight)."""
    await asyncio.to_thread(session.connection)


def incident_facts(incident: Incident, party: Party) -> IncidentFacts:
    """What the workflow knows of the incident, as the row says now (current party and level)."""
    assert incident.id is not None  # a row read or flushed: it has its id
    return IncidentFacts(
        incident_id=incident.id, human_id=incident.human_id, title=incident.title, category=incident.category,
        level=incident.level, party_code=party.code, party_name=party.name, detected_at=incident.detected_at,
        opened_at=incident.opened_at, reporter=incident.reporter, drill=incident.drill, summary=incident.summary,
        source=incident.source, source_url=incident.source_url,
    )


async def start_incident_workflow(*, client: Client, incident: Incident, party: Party, policy: Policy,
                                  public_url: str, task_queue: str, opened_recorded: bool = False,
                                  state: IncidentState | None = None,
                                  supporting: list[SupportingParty] | None = None) -> bool:
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
                          state=state, supporting=supporting or [], patch_level=PATCH_LEVEL),
            id=incident.workflow_id, task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(ids.PARTY_ATTR, party.code),
                                                     SearchAttributePair(ids.LEVEL_ATTR, incident.level)]),
            static_summary=f"{incident.human_id} {incident.title}"[:200],
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def _remove_unstarted(session: Session, incident: Incident) -> None:
    assert incident.id is not None  # flushed by open_incident
    search.remove_document(session, incident.id)
    session.exec(delete(IncidentSupport).where(col(IncidentSupport.incident_id) == incident.id))
    session.exec(delete(TimelineEvent).where(col(TimelineEvent.incident_id) == incident.id))
    session.exec(delete(Milestone).where(col(Milestone.incident_id) == incident.id))
    session.exec(delete(Incident).where(col(Incident.id) == incident.id))
    session.commit()
    invalidate_assessments()


async def act(*, desk: Desk, incident: Incident, update: Any, command: Any, user: User | None = None,
              idempotency_key: str | None = None) -> bool:
    """Run one human action as a workflow update; its validator's refusal becomes InvalidInput or Conflict
    carrying the workflow's own sentence and its code (desk.refusals).

    The action is stamped with the time it was received here (the workflow dates it by that), and runs as
    the update whose id comes from the request's ``Idempotency-Key`` (scoped to the user and incident):
    a retried request is the same update, answered again, never applied twice.

    Returns True when the action's timeline event is in SQL, False when it took effect in the workflow
    but the database was away (it is written, in order, when the database is back).
    """
    client = desk.require_client()
    handle = client.get_workflow_handle(incident.workflow_id)
    name = getattr(update, "__name__", str(update))
    command = replace(command, received_at=datetime.now(UTC))
    if idempotency_key:
        update_id = ids.update_id(name, workflow_id=incident.workflow_id, user_id=user.id if user else "",
                                  idempotency_key=idempotency_key)
    else:
        update_id = f"{name}-{uuid.uuid4().hex}"
    try:
        state = await _execute_update(handle, update, command, update_id, incident.human_id)
        log.info("%s by %s", name, getattr(command, "actor", ""), extra={"incident": incident.human_id})
        key = ids.update_event_key(incident.workflow_id, update_id)
        # an upload's events are <key>/1, <key>/2 …
        return not any(e.event_key == key or e.event_key.startswith(key + "/") for e in state.outbox)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            # The validator's code and params (desk.refusals); a worker from before codes sends none.
            code, params = refusals.code_of(cause.details) or (None, {})
            if cause.type == INVALID:
                raise InvalidInput(cause.message, code=code or "workflow.invalid", params=params,
                                   field=refusals.FIELD_OF.get(code or "")) from exc
            raise Conflict(cause.message, code=code or "workflow.conflict", params=params) from exc
        raise Conflict(str(cause), code="workflow.conflict") from exc
    except RuntimeError as exc:  # a lazy client that never reached the server
        raise EngineUnavailable() from exc
    except RPCError as exc:
        if "not found" in str(exc).lower() or "already completed" in str(exc).lower():
            raise Conflict(WORKFLOW_ENDED, code="workflow.ended") from exc
        log.warning("%s not done, the engine answered: %s (%s)", name, exc, exc.status.name,
                    extra={"incident": incident.human_id})
        raise EngineUnavailable() from exc


# From its third failed attempt on, while an incident's workflow task is being tried again (workers dying in the
# middle of it, or timing out, or a build that fails it), Temporal refuses updates at once ("Workflow Task in failed
# state"). The action is asked again, as the same update, for about 15 s (a retried task came back in ~10 s once a
# good worker had it: tests/system/test_faults.py) before the user is told to try again later.
TASK_FAILING_PAUSES = (0.5, 1.0, 2.0, 3.0, 4.0, 4.0)


def _task_failing(exc: RPCError) -> bool:
    return exc.status == RPCStatusCode.FAILED_PRECONDITION and "workflow task in failed state" in str(exc).lower()


async def _execute_update(handle: Any, update: Any, command: Any, update_id: str, human_id: str) -> Any:
    """``handle.execute_update``, asked again while the incident's workflow task is failing (the same update id:
    Temporal admits it once)."""
    for pause in TASK_FAILING_PAUSES:
        try:
            return await handle.execute_update(update, command, id=update_id)
        except RPCError as exc:
            if not _task_failing(exc):
                raise
            log.info("the incident's workflow task is failing; asking again in %.1f s", pause,
                     extra={"incident": human_id})
            await asyncio.sleep(pause)
    return await handle.execute_update(update, command, id=update_id)


def timeline_rows(*, session: Session, incident: Incident) -> tuple[list[TimelineEvent], list[NotificationAttempt]]:
    events = session.exec(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(col(TimelineEvent.seq))
    ).all()
    notes = session.exec(
        select(NotificationAttempt).where(NotificationAttempt.incident_id == incident.id)
        .order_by(col(NotificationAttempt.at), col(NotificationAttempt.id))
    ).all()
    return list(events), list(notes)
