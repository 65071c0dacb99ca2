"""Reconciliation: every incident row has a workflow and every incident workflow a row.

Drift can only come from a crash or a restore: the API died between writing the row and starting the
workflow, or the desk's database was restored from a backup older than some workflows. `check` reports
it; `repair` fixes what can be fixed:

- a row whose workflow was never started: start it from the row (deadlines still run from
  ``detected_at``, so anything already due goes out at once);
- a running workflow without a row: send it a note, whose record rebuilds the row from the workflow's
  state (activities/records.upsert_incident); the note stays in the timeline as evidence of the repair.

A workflow that has ended without a row is only reported: there is nothing left to ask it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from desk.db import session_scope
from desk.messages import AddNote
from desk.models import Incident, Party, TimelineEvent
from desk.policy import Policy

DOCTOR = "doctor"
REBUILT_NOTE = "对账修复：数据库中缺少该事件的记录，已按处理流程的当前状态重建。"


@dataclass
class Drift:
    workflow_id: str
    human_id: str
    problem: str  # no_workflow | no_row | no_row_ended
    repaired: bool = False
    error: str = ""

    def describe(self) -> str:
        what = {
            "no_workflow": "有事件记录但没有处理流程（开立时中断）",
            "no_row": "处理流程在运行但数据库中没有事件记录",
            "no_row_ended": "处理流程已结束且数据库中没有事件记录（仅报告）",
        }[self.problem]
        done = "，已修复" if self.repaired else (f"，修复失败：{self.error}" if self.error else "")
        return f"{self.human_id or '?'} [{self.workflow_id}] {what}{done}"


@dataclass
class Report:
    rows: int = 0
    workflows: int = 0
    drift: list[Drift] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not [d for d in self.drift if not d.repaired]


async def _workflows(client: Client, task_queue: str) -> dict[str, WorkflowExecutionStatus | None]:
    query = f'WorkflowType="IncidentWorkflow" AND TaskQueue="{task_queue}"'
    found: dict[str, WorkflowExecutionStatus | None] = {}
    async for wf in client.list_workflows(query):
        # Several runs share a workflow id (continue-as-new): a running one wins.
        if found.get(wf.id) != WorkflowExecutionStatus.RUNNING:
            found[wf.id] = wf.status
    return found


async def _exists(client: Client, workflow_id: str) -> bool:
    """Visibility lags a little behind a fresh start: ask the workflow itself before calling it missing."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise


async def reconcile(client: Client, *, database_url: str | None, task_queue: str, policy: Policy,
                    drill_policy: Policy, public_url: str, repair: bool = False,
                    grace: timedelta = timedelta(minutes=1)) -> Report:
    """Compare rows and workflows; with ``repair``, fix what can be fixed.

    Rows opened less than ``grace`` ago are left alone: the API may still be starting their workflows.
    """
    from api.service import start_incident_workflow

    report = Report()
    workflows = await _workflows(client, task_queue)
    report.workflows = len(workflows)
    cutoff = datetime.now(timezone.utc) - grace
    with session_scope(database_url) as session:
        rows = list(session.exec(select(Incident)).all())
        report.rows = len(rows)
        known = {r.workflow_id for r in rows}
        for incident in rows:
            if incident.workflow_id in workflows or incident.opened_at > cutoff:
                continue
            if await _exists(client, incident.workflow_id):
                continue
            drift = Drift(incident.workflow_id, incident.human_id, "no_workflow")
            report.drift.append(drift)
            if repair:
                party = session.get(Party, incident.party_code)
                opened = session.exec(select(TimelineEvent.id).where(
                    TimelineEvent.event_key == f"{incident.workflow_id}/1")).first() is not None
                try:
                    await start_incident_workflow(client, incident, party,
                                                  drill_policy if incident.drill else policy, public_url, task_queue,
                                                  opened_recorded=opened)
                    drift.repaired = True
                except RPCError as exc:
                    drift.error = str(exc)[:200]
    for workflow_id, status in sorted(workflows.items()):
        if workflow_id in known:
            continue
        running = status == WorkflowExecutionStatus.RUNNING
        human_id = workflow_id.removeprefix("incident-").rsplit("-", 1)[0]
        drift = Drift(workflow_id, human_id, "no_row" if running else "no_row_ended")
        report.drift.append(drift)
        if repair and running:
            try:
                await client.get_workflow_handle(workflow_id).execute_update("add_note", AddNote(DOCTOR, REBUILT_NOTE))
                drift.repaired = True
            except Exception as exc:  # report the one that failed; the others still get repaired
                drift.error = str(exc)[:200]
    return report
