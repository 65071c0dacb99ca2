"""Reconciliation: every open incident row has a running workflow and every incident workflow a row.

Drift comes from a crash, a restore or an operator: the API died between writing the row and starting the
workflow, the desk's database was restored from a backup older than some workflows, a workflow was
deleted (or outlived Temporal's retention) while its incident was still open, or someone terminated one.
`check` reports it; `repair` fixes what can be fixed:

- an open row whose workflow is gone: start it again under the same workflow id, with its state rebuilt
  from SQL (:func:`rebuild_state`): met and waived milestones stay so, rungs already delivered are not sent
  again, the timeline continues after its last event, and the rules are the policy the incident was opened
  under (``Incident.policy_snapshot``), not whatever the policy file says today;
- a running workflow without a row: send it a note, whose record rebuilds the row from the workflow's
  state (activities/records.upsert_incident); the note stays in the timeline as evidence of the repair.

Only reported, never repaired:

- an open row whose workflow exists but has ended (terminated, failed, or completed while the row says
  open): someone or something stopped its clocks, and restarting them blindly could undo a deliberate
  stop; the report says what it means and what the operator can do;
- a workflow that has ended without a row: there is nothing left to ask it.

Closed rows are none of the doctor's business: their workflow ends after the reopen window and is deleted
at Temporal's retention, which is how it should be. Starting one again would send escalations for an
incident that was handled long ago.

:func:`patch_report` counts the running runs still older than each ``workflow.patched`` id, so an operator
knows when a patch's old branch can become ``deprecate_patch`` and then go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.converter import value_to_type
from temporalio.service import RPCError, RPCStatusCode

from desk import clocks as clk
from desk import ids
from desk.db import session_scope
from desk.messages import OPEN, AddNote, IncidentState, SupportingParty, Task
from desk.models import (
    Incident,
    IncidentSupport,
    IncidentTask,
    Milestone,
    NotificationAttempt,
    NotificationDelivery,
    Party,
    TimelineEvent,
)
from desk.policy import FOLLOW_UP, Policy
from desk.service import incident_facts, start_incident_workflow
from desk.vocab import DELIVERED_STATUSES, DeliveryStatus, EventKind
from workflows.incident import IncidentWorkflow

DOCTOR = "doctor"
REBUILT_NOTE = "对账修复：数据库中缺少该事件的记录，已按处理流程的当前状态重建。"

# What counts as "this rung went out": the ledger's finished rows, the attempt log's (no channel configured
# is an answer too: sending again would find none), and the timeline's rung events.
DELIVERED = DELIVERED_STATUSES
ANSWERED_ATTEMPTS = (*DELIVERED, DeliveryStatus.no_channel)
RUNG_EVENTS = (EventKind.reminder_sent, EventKind.escalated, EventKind.escalation_repeated,
               EventKind.notification_failed)
# Rung keys (desk.ids.RUNG_KEY): "acknowledge/g2/breach", "follow_up/g3/repeat-4", "first_release/g1/reminder50%";
# a channel-failure alert (".../breach/channel-failure") is not a rung of the ladder.
RUNG_KEY, REPEAT = ids.RUNG_KEY, ids.REPEAT

ENDED = {
    WorkflowExecutionStatus.COMPLETED: "已结束",
    WorkflowExecutionStatus.FAILED: "已失败",
    WorkflowExecutionStatus.CANCELED: "已取消",
    WorkflowExecutionStatus.TERMINATED: "已被终止",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "已转为新运行",
    WorkflowExecutionStatus.TIMED_OUT: "已超时",
}


@dataclass
class Drift:
    workflow_id: str
    human_id: str
    problem: str  # no_workflow | workflow_ended | no_row | no_row_ended
    repaired: bool = False
    error: str = ""
    detail: str = ""  # how it was repaired (which policy), or the ended workflow's status

    @property
    def repairable(self) -> bool:
        return self.problem in ("no_workflow", "no_row")

    def describe(self) -> str:
        what = {
            "no_workflow": "事件未结案，但没有处理流程（开立时中断，或流程已被删除）",
            "workflow_ended": (
                f"事件未结案，但处理流程{self.detail or '已结束'}：时限不再计时，也不会再发提醒。"
                "仅报告，不自动重启：请先查明原因（有人手动终止、流程出错，或数据库回档到结案之前）；"
                "确需继续督办的，删除该流程（temporal workflow delete）后再运行 "
                "`opinion-desk doctor --repair`，将按数据库记录重建"),
            "no_row": "处理流程在运行但数据库中没有事件记录",
            "no_row_ended": "处理流程已结束且数据库中没有事件记录（仅报告）",
        }[self.problem]
        if self.repaired:
            done = f"，已修复{('：' + self.detail) if self.detail and self.problem == 'no_workflow' else ''}"
        else:
            done = f"，修复失败：{self.error}" if self.error else ""
        return f"{self.human_id or '?'} [{self.workflow_id}] {what}{done}"


@dataclass
class Report:
    rows: int = 0
    workflows: int = 0
    drift: list[Drift] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not [d for d in self.drift if not d.repaired]

    @property
    def repairable(self) -> bool:
        return any(d.repairable and not d.repaired for d in self.drift)


async def _workflows(client: Client, task_queue: str) -> dict[str, WorkflowExecutionStatus | None]:
    query = f'WorkflowType="IncidentWorkflow" AND TaskQueue="{task_queue}"'
    found: dict[str, WorkflowExecutionStatus | None] = {}
    async for wf in client.list_workflows(query):
        # Several runs share a workflow id (continue-as-new): a running one wins.
        if found.get(wf.id) != WorkflowExecutionStatus.RUNNING:
            found[wf.id] = wf.status
    return found


async def _status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The latest run's status, asked of the workflow itself: visibility lags a fresh start (and a delete),
    and lists every run of a continued workflow. None: Temporal has no such workflow."""
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def incident_policy(incident: Incident, *, policy: Policy, drill_policy: Policy) -> tuple[Policy, str]:
    """The rules the incident was opened under, and a line for the report saying where they came from.

    Rows made before the snapshot was stored have none: the configured policy is the best there is, and
    the report says so (deadlines already in the rows stand; the ladder and repeats follow today's file).
    """
    configured = drill_policy if incident.drill else policy
    if incident.policy_snapshot:
        try:
            return value_to_type(Policy, incident.policy_snapshot), f"按开立时的规则「{incident.policy_name}」重建"
        except (TypeError, ValueError, KeyError) as exc:
            return configured, (f"开立时保存的规则无法读取（{str(exc)[:80]}），"
                                f"按当前配置的规则「{configured.name}」重建")
    opened_under = f"（开立时为「{incident.policy_name}」）" if incident.policy_name != configured.name else ""
    return configured, f"开立时的规则未随记录保存，按当前配置的规则「{configured.name}」重建{opened_under}"


def _rung_keys(session: Session, incident: Incident) -> tuple[set[str], dict[str, str]]:
    """Every rung key that went out for this incident, and the deadline each timeline rung was sent for."""
    dedupe_keys = set(session.exec(select(NotificationDelivery.dedupe_key).where(
        NotificationDelivery.incident_id == incident.id, col(NotificationDelivery.status).in_(DELIVERED))).all())
    dedupe_keys |= set(session.exec(select(NotificationAttempt.dedupe_key).where(
        NotificationAttempt.incident_id == incident.id,
        col(NotificationAttempt.status).in_(ANSWERED_ATTEMPTS))).all())
    keys = {rung for k in dedupe_keys if (rung := ids.rung_key_of(incident.workflow_id, k)) is not None}
    due_of: dict[str, str] = {}
    for payload in session.exec(select(TimelineEvent.payload).where(
            TimelineEvent.incident_id == incident.id, col(TimelineEvent.kind).in_(RUNG_EVENTS))).all():
        rung = (payload or {}).get("rung")
        if isinstance(rung, str):
            keys.add(rung)
            if isinstance(payload.get("due_at"), str):
                due_of[rung] = payload["due_at"]
    return keys, due_of


def _sent(keys: Iterable[str], due_of: dict[str, str], milestone: Milestone) -> tuple[int, list[str], int]:
    """(generation, sent_rungs, repeats_sent) of one milestone's clock, from the rung keys that went out."""
    generations: dict[int, list[str]] = {}
    for key in keys:
        m = RUNG_KEY.match(key)
        if m and m["milestone"] == milestone.key:
            generations.setdefault(int(m["generation"]), []).append(key)
    if not generations:
        return 1, [], 0
    generation = max(generations)
    keys_of = generations[generation]
    # A deadline moved after these rungs went out (a level change, a follow-up release) gave the clock a
    # new generation that sent nothing yet: without it the new deadline's breach would count as sent.
    for key in keys_of:
        due = due_of.get(key)
        if due is not None and _parse(due) not in (None, milestone.due_at):
            return generation + 1, [], 0
    sent = sorted(k for k in keys_of if not REPEAT.match(k.rsplit("/", 1)[1]))
    repeats = max((int(r[1]) for k in keys_of if (r := REPEAT.match(k.rsplit("/", 1)[1]))), default=0)
    return generation, sent, repeats


def _parse(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def rebuild_state(session: Session, incident: Incident, *, party: Party, policy: Policy,
                  now: datetime) -> IncidentState:
    """The state an open incident's workflow had, as far as SQL knows it, to start a lost workflow again.

    Clocks come from the milestone rows (deadlines, met, waived) and are planned from ``now``: reminders
    whose time passed while no workflow ran are not sent late, but the breach of a clock still open always
    goes out if it has not (clocks.ladder). What was delivered comes from the delivery ledger, the attempt
    log and the timeline's rung events; the timeline continues after its last event.
    """
    keys, due_of = _rung_keys(session, incident)
    order = {rule.key: i for i, rule in enumerate(policy.milestones)}
    rows = sorted(session.exec(select(Milestone).where(Milestone.incident_id == incident.id)).all(),
                  key=lambda m: (m.key == FOLLOW_UP, order.get(m.key, len(order)), m.key))
    clocks = []
    for m in rows:
        window_start = incident.detected_at
        if m.key == FOLLOW_UP and policy.follow_up_every_seconds:
            window_start = m.due_at - timedelta(seconds=policy.follow_up_every_seconds)
        generation, sent, repeats = _sent(keys, due_of, m)
        clocks.append(clk.MilestoneClock(
            key=m.key, label=m.label, window_start=window_start, due_at=m.due_at, planned_from=now,
            state=m.state, generation=generation, met_at=m.met_at, waived_reason=m.waived_reason,
            sent_rungs=sent, repeats_sent=repeats))
    last_seq = session.exec(select(func.max(TimelineEvent.seq)).where(
        TimelineEvent.incident_id == incident.id)).one() or 0
    follow_up = next((c for c in clocks if c.key == FOLLOW_UP), None)
    supporting, tasks = _rebuild_shared(session, incident, policy, now, keys, due_of, clocks)
    return IncidentState(
        facts=incident_facts(incident, party), status=OPEN, clocks=clocks, event_seq=last_seq,
        written_seq=last_seq, follow_up_generation=follow_up.generation if follow_up else 0,
        supporting=supporting, tasks=tasks)


def _rebuild_shared(session: Session, incident: Incident, policy: Policy, now: datetime, keys: set[str],
                    due_of: dict[str, str], clocks: list[clk.MilestoneClock]) -> tuple[list[SupportingParty], list[Task]]:
    """The supporting parties and tasks with their clocks (appended to ``clocks``), from their rows."""
    names: dict[str, str] = dict(session.exec(select(Party.code, Party.name)).all())
    supporting: list[SupportingParty] = []
    ack = policy.rule("acknowledge")
    for row in session.exec(select(IncidentSupport).where(IncidentSupport.incident_id == incident.id)
                            .order_by(col(IncidentSupport.n))).all():
        supporting.append(SupportingParty(n=row.n, party_code=row.party_code, party_name=names.get(row.party_code, ""),
                                          added_at=row.added_at, added_by=row.added_by))
        if row.ack_due_at is None or row.ack_state is None:
            continue
        key = ids.supporting_clock_key(row.n)
        generation, sent, repeats = _sent(keys, due_of, Milestone(incident_id=incident.id or 0, key=key,
                                                                  due_at=row.ack_due_at))
        named_at_opening = row.added_at <= incident.opened_at
        clocks.append(clk.MilestoneClock(
            key=key, label=ack.label if ack else key, window_start=incident.detected_at if named_at_opening
            else row.added_at, due_at=row.ack_due_at, planned_from=now, state=row.ack_state, generation=generation,
            met_at=row.ack_met_at, waived_reason=row.ack_waived_reason, sent_rungs=sent, repeats_sent=repeats,
            party=row.party_code))
    tasks: list[Task] = []
    for t in session.exec(select(IncidentTask).where(IncidentTask.incident_id == incident.id)
                          .order_by(col(IncidentTask.n))).all():
        tasks.append(Task(n=t.n, party_code=t.party_code, party_name=names.get(t.party_code, ""), text=t.text,
                          due_at=t.due_at, assigned_by=t.assigned_by, assigned_at=t.assigned_at,
                          needs_attachment=t.needs_attachment, done_by=t.done_by, done_note=t.note,
                          attachment=t.attachment_sha256))
        fresh = clk.task_clock(t.n, t.party_code, t.text, t.assigned_at, t.due_at, now)
        generation, sent, repeats = _sent(keys, due_of, Milestone(incident_id=incident.id or 0, key=fresh.key,
                                                                  due_at=t.due_at))
        clocks.append(clk.MilestoneClock(
            key=fresh.key, label=fresh.label, window_start=fresh.window_start, due_at=t.due_at, planned_from=now,
            state=t.state, generation=generation, met_at=t.met_at, waived_reason=t.waived_reason, sent_rungs=sent,
            repeats_sent=repeats, party=t.party_code))
    return supporting, tasks


async def _restart(client: Client, session: Session, incident: Incident, *, policy: Policy,
                   drill_policy: Policy, public_url: str, task_queue: str) -> str:
    """Start an open incident's lost workflow from SQL. Returns the report's note on the rules used."""
    party = session.get_one(Party, incident.party_code)
    rules, note = incident_policy(incident, policy=policy, drill_policy=drill_policy)
    state = rebuild_state(session, incident, party=party, policy=rules, now=datetime.now(UTC))
    if state.event_seq == 0:
        # A row from before the "opened" event was written with it, whose workflow never ran: nothing
        # happened yet, so start it as the API would have (the run writes "opened" itself).
        await start_incident_workflow(client=client, incident=incident, party=party, policy=rules,
                                      public_url=public_url, task_queue=task_queue, opened_recorded=False)
    else:
        await start_incident_workflow(client=client, incident=incident, party=party, policy=rules,
                                      public_url=public_url, task_queue=task_queue, state=state)
    return note


async def reconcile(client: Client, *, database_url: str | None, task_queue: str, policy: Policy,
                    drill_policy: Policy, public_url: str, repair: bool = False,
                    grace: timedelta = timedelta(minutes=1)) -> Report:
    """Compare rows and workflows; with ``repair``, fix what can be fixed.

    Rows opened less than ``grace`` ago are left alone: the API may still be starting their workflows.
    Closed rows are left alone whatever their workflow's fate (see the module's docstring).
    """
    report = Report()
    workflows = await _workflows(client, task_queue)
    report.workflows = len(workflows)
    cutoff = datetime.now(UTC) - grace
    with session_scope(database_url) as session:
        rows = list(session.exec(select(Incident)).all())
        report.rows = len(rows)
        known = {r.workflow_id for r in rows}
        for incident in rows:
            if incident.status != OPEN or incident.opened_at > cutoff:
                continue
            if workflows.get(incident.workflow_id) == WorkflowExecutionStatus.RUNNING:
                continue
            status = await _status(client, incident.workflow_id)
            if status == WorkflowExecutionStatus.RUNNING:
                continue
            if status is not None:
                report.drift.append(Drift(incident.workflow_id, incident.human_id, "workflow_ended",
                                          detail=ENDED.get(status, "已结束")))
                continue
            drift = Drift(incident.workflow_id, incident.human_id, "no_workflow")
            report.drift.append(drift)
            if repair:
                try:
                    drift.detail = await _restart(client, session, incident, policy=policy,
                                                  drill_policy=drill_policy, public_url=public_url,
                                                  task_queue=task_queue)
                    drift.repaired = True
                except RPCError as exc:
                    drift.error = str(exc)[:200]
    for workflow_id, status in sorted(workflows.items()):
        if workflow_id in known:
            continue
        running = status == WorkflowExecutionStatus.RUNNING
        human_id = ids.human_id_of(workflow_id)
        drift = Drift(workflow_id, human_id, "no_row" if running else "no_row_ended")
        report.drift.append(drift)
        if repair and running:
            try:
                handle = client.get_workflow_handle(workflow_id)
                await handle.execute_update(IncidentWorkflow.add_note, AddNote(DOCTOR, REBUILT_NOTE))
                drift.repaired = True
            except Exception as exc:  # report the one that failed; the others still get repaired
                drift.error = str(exc)[:200]
    return report


# --- patches ------------------------------------------------------------------------------------------


@dataclass
class PatchReport:
    """Running incident runs, and per patch id how many of them are older than it (took its old branch)."""

    running: int = 0
    older: dict[str, int] = field(default_factory=dict)
    unknown: int = 0  # runs that could not answer: no worker polling, or a worker from before the query
    no_worker: bool = False

    def lines(self) -> list[str]:
        head = f"运行中的处理流程 {self.running} 个"
        if not self.running:
            return [head + "：没有运行中的流程依赖任何补丁的旧分支"]
        lines = []
        if self.unknown:
            why = "没有在线的 worker" if self.no_worker else "没有在线的 worker，或 worker 版本较旧"
            lines.append(f"{head}；其中 {self.unknown} 个无法查询补丁情况（{why}），未计入下列数字")
        elif not self.older:
            lines.append(head)
        for patch, n in sorted(self.older.items()):
            if n:
                advice = "可在其全部结束后删除旧分支：先改为 deprecate_patch"
            elif self.unknown:
                advice = f"另有 {self.unknown} 个无法查询，查清前保留旧分支"
            else:
                advice = "旧分支可改为 deprecate_patch，再删除"
            lines.append(f"{head}；早于补丁 {patch} 的 {n} 个（{advice}）")
        return lines


async def _has_pollers(client: Client, task_queue: str) -> bool:
    resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return bool(resp.pollers)


async def patch_report(client: Client, *, task_queue: str, query_timeout: timedelta = timedelta(seconds=5),
                       concurrency: int = 16) -> PatchReport:
    """Ask every running incident run which patches it took (its "patches" query).

    A run older than a patch keeps that patch's old branch for life (a continued run starts new), so the
    old branch can go once this counts none. A run that cannot answer (no worker, or a worker from before
    the query existed) is counted as unknown, not as an error: the doctor still reports the rest.
    """
    query = f'WorkflowType="IncidentWorkflow" AND TaskQueue="{task_queue}" AND ExecutionStatus="Running"'
    runs = [(wf.id, wf.run_id) async for wf in client.list_workflows(query)]
    report = PatchReport(running=len(runs))
    if not runs:
        return report
    if not await _has_pollers(client, task_queue):
        # Every query would wait for a worker that is not there: say so at once instead.
        report.unknown, report.no_worker = len(runs), True
        return report
    limit = asyncio.Semaphore(concurrency)

    async def ask(workflow_id: str, run_id: str) -> dict[str, bool] | None:
        async with limit:
            try:
                return await client.get_workflow_handle(workflow_id, run_id=run_id).query(
                    IncidentWorkflow.patches, rpc_timeout=query_timeout)
            except (WorkflowQueryFailedError, WorkflowQueryRejectedError, RPCError, TypeError, ValueError):
                return None

    for answer in await asyncio.gather(*(ask(w, r) for w, r in runs)):
        if answer is None:
            report.unknown += 1
            continue
        for patch, taken in answer.items():
            report.older[patch] = report.older.get(patch, 0) + (0 if taken else 1)
    return report
