"""Every incident row has a workflow and every incident workflow a row, even after a crash or a restore.

- Temporal unreachable when an incident is opened: the API answers 503 with a sentence and leaves no
  row behind (nothing half-made; the duty officer submits again later).
- A crash between the API's two steps (row written, workflow not started): `opinion-desk doctor`
  reports it, and `--repair` starts the workflow from the row, clocks still counted from detection.
- A database restored from an older backup (workflow running, row gone): doctor reports it and the
  repair rebuilds the row from the workflow's state.
- A closed incident whose workflow is gone (Temporal's retention, or `temporal workflow delete`): the
  repair leaves it closed and silent. An open one comes back with its state rebuilt from SQL: what was
  met stays met, what went out is not sent again, the timeline continues, the rules are the ones it
  was opened under. An open incident whose workflow was terminated is reported, never restarted.
- Doctor counts the running incident runs older than each code patch (when an old branch can go).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlmodel import delete, select
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from api.app import create_app
from api.schemas import IncidentCreate
from desk import clocks as clk
from desk import service
from desk.db import init_db, session_scope
from desk.doctor import DOCTOR, patch_report, rebuild_state, reconcile
from desk.models import (
    Incident,
    Milestone,
    NotificationAttempt,
    NotificationDelivery,
    Party,
    TimelineEvent,
    User,
)
from desk.policy import load_policy
from desk.service import Desk as ServiceDesk
from tests.helpers import BIN, PASSWORD, ROOT, TEST_SECRET_KEY, eventually, free_port, make_settings, start_desk, workflow_id
from workflows.incident import IncidentWorkflow


def rows(database_url: str) -> list[Incident]:
    with session_scope(database_url) as s:
        return list(s.exec(select(Incident)).all())


def timeline(database_url: str, human_id: str) -> list[TimelineEvent]:
    with session_scope(database_url) as s:
        incident = s.exec(select(Incident).where(Incident.human_id == human_id)).one()
        return list(s.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                           .order_by(TimelineEvent.seq)).all())


async def doctor(desk, repair: bool = False, policy: str | None = None):
    """Run the reconciliation as `opinion-desk doctor` does; ``policy``: the one configured at that moment."""
    return await reconcile(
        desk.client, database_url=desk.database_url, task_queue=desk.task_queue,
        policy=load_policy(policy or desk.settings.policy), drill_policy=load_policy(desk.settings.drill_policy),
        public_url=desk.settings.resolved_public_url, repair=repair, grace=timedelta(0))


def doctor_cli(desk, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DESK_DATABASE_URL=desk.database_url,
               DESK_TEMPORAL_ADDRESS=desk.client.service_client.config.target_host,
               DESK_TEMPORAL_TASK_QUEUE=desk.task_queue, DESK_DATA_DIR=str(desk.settings.data_dir),
               DESK_SECRET_KEY=TEST_SECRET_KEY, DESK_LOG_JSON="false")
    return subprocess.run([sys.executable, "-m", "desk.cli", "doctor", "--grace", "0", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


async def status(client: Client, wid: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(wid).describe()).status
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def delete_workflow(desk, wid: str) -> None:
    """What Temporal's retention does to an old workflow, done now, with the operator's own tool."""
    done = subprocess.run([str(BIN / "temporal"), "workflow", "delete", "--address",
                           desk.client.service_client.config.target_host, "--namespace", desk.client.namespace,
                           "--workflow-id", wid, "--yes"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    await eventually(lambda: _gone(desk.client, wid), timeout=30)  # the delete runs asynchronously


async def _gone(client: Client, wid: str) -> bool:
    return await status(client, wid) is None


def events(database_url: str, human_id: str) -> list[tuple]:
    return [(e.seq, e.event_key, e.kind, e.actor, e.at, e.payload) for e in timeline(database_url, human_id)]


def titled(receiver, prefix: str, text: str = "") -> list:
    with receiver.lock:
        return [m for m in receiver.messages if m.title.startswith(prefix) and text in m.body]


async def test_opening_while_temporal_is_unreachable_answers_503_and_leaves_no_row(desk):
    # A real client aimed at a port where nothing listens (the server is down), not a mock.
    dead = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    app = create_app(desk.settings, client=dead, database_url=desk.database_url, task_queue=desk.task_queue)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        token = (await http.post("/api/auth/token", data={"username": "duty", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        r = await http.post("/api/incidents", headers=headers, json={
            "title": "流程引擎停机时开立", "category": "accident", "level": "III", "party": "bazhou"})
        assert r.status_code == 503, r.text
        assert "流程引擎暂时无法连接" in r.json()["detail"] and "请稍后重试" in r.json()["detail"]
        assert rows(desk.database_url) == []
        with session_scope(desk.database_url) as s:
            assert s.exec(select(Milestone)).all() == []
        # Actions on an existing incident say the same, and change nothing.
        opened = await desk.open(title="已开立的事件")
        iid = opened.json()["id"]
        r = await http.post(f"/api/incidents/{iid}/notes", headers=headers, json={"text": "引擎停机时的备注"})
        assert r.status_code == 503 and "流程引擎暂时无法连接" in r.json()["detail"]
    await eventually(lambda: len(timeline(desk.database_url, iid)) == 1)
    assert [e.kind for e in timeline(desk.database_url, iid)] == ["opened"]
    report = await doctor(desk)
    assert report.drift == [] and report.rows == 1


class Crash(BaseException):
    """The API process dying right after committing the row (BaseException: no handler catches it)."""


async def test_a_crash_between_row_and_workflow_is_reported_and_repaired_by_doctor(desk, monkeypatch):
    async def die(*_args, **_kwargs):
        raise Crash

    monkeypatch.setattr(service, "start_incident_workflow", die)
    with session_scope(desk.database_url) as session:
        duty = session.exec(select(User).where(User.username == "duty")).one()
        api_desk = ServiceDesk(client=desk.client, task_queue=desk.task_queue,
                               policy=load_policy(desk.settings.policy),
                               drill_policy=load_policy(desk.settings.drill_policy), public_url="http://desk.test")
        data = IncidentCreate(title="开立途中进程崩溃", category="accident", level="II", party="enyang")
        with pytest.raises(Crash):
            await service.open_incident(session=session, desk=api_desk, data=data, user=duty)
    monkeypatch.undo()
    [orphan] = rows(desk.database_url)
    # The "opened" event is written with the row, so the timeline is whole even before the repair.
    assert [e.kind for e in timeline(desk.database_url, orphan.human_id)] == ["opened"]

    report = await doctor(desk)
    assert [(d.human_id, d.problem, d.repaired) for d in report.drift] == [(orphan.human_id, "no_workflow", False)]
    assert not report.clean

    report = await doctor(desk, repair=True)
    assert [(d.problem, d.repaired) for d in report.drift] == [("no_workflow", True)]
    await eventually(lambda: [e.kind for e in timeline(desk.database_url, orphan.human_id)] == ["opened"])
    # The repaired incident is a normal one: the responder can act on it through the API.
    r = await desk.http.post(f"/api/incidents/{orphan.human_id}/acknowledge", headers=desk.auth("enyang"))
    assert r.status_code == 200, r.text
    events = timeline(desk.database_url, orphan.human_id)
    assert [e.seq for e in events] == [1, 2] and events[0].payload["deadlines"]
    assert (await doctor(desk)).drift == []
    assert (await doctor(desk, repair=True)).drift == []  # a second repair finds nothing to do


async def test_a_running_workflow_whose_row_was_lost_gets_its_row_rebuilt(desk):
    iid = (await desk.open(title="数据库回档后丢失的事件", party="bazhou", level="I")).json()["id"]
    await eventually(lambda: len(timeline(desk.database_url, iid)) == 2)  # opened, and the 【新交办】 sent
    assert (await desk.http.post(f"/api/incidents/{iid}/notes", headers=desk.auth("duty"),
                                 json={"text": "回档前的备注"})).status_code == 200
    with session_scope(desk.database_url) as s:  # restore from a backup taken before the incident
        incident = s.exec(select(Incident).where(Incident.human_id == iid)).one()
        for table in (TimelineEvent, Milestone, NotificationAttempt, NotificationDelivery):
            s.exec(delete(table).where(table.incident_id == incident.id))
        s.exec(delete(Incident).where(Incident.id == incident.id))
        s.commit()
    assert (await desk.http.get(f"/api/incidents/{iid}", headers=desk.auth("duty"))).status_code == 404

    report = await doctor(desk)
    assert [(d.human_id, d.problem) for d in report.drift] == [(iid, "no_row")]
    report = await doctor(desk, repair=True)
    assert report.drift[0].repaired, report.drift[0].error
    r = await desk.http.get(f"/api/incidents/{iid}", headers=desk.auth("duty"))
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "数据库回档后丢失的事件" and body["level"] == "I" and body["party"]["code"] == "bazhou"
    assert {m["key"] for m in body["milestones"]} == {"acknowledge", "first_release", "press_conference"}
    events = timeline(desk.database_url, iid)
    assert [(e.seq, e.kind, e.actor) for e in events] == [(4, "note", DOCTOR)]  # continues the workflow's count
    assert (await doctor(desk)).drift == []


async def test_doctor_command_reports_drift_and_exits_nonzero_until_repaired(desk, monkeypatch):
    async def never(*_args, **_kwargs):
        raise Crash

    with session_scope(desk.database_url) as session:
        duty = session.exec(select(User).where(User.username == "duty")).one()
        api_desk = ServiceDesk(client=desk.client, task_queue=desk.task_queue, policy=load_policy("bazhong"),
                               drill_policy=load_policy("drill"), public_url="http://desk.test")
        monkeypatch.setattr(service, "start_incident_workflow", never)
        with pytest.raises(Crash):
            await service.open_incident(session=session, desk=api_desk, data=IncidentCreate(
                title="命令行对账", category="public_opinion", party="bazhou"), user=duty)
        monkeypatch.undo()
    [orphan] = rows(desk.database_url)

    first = doctor_cli(desk)
    assert first.returncode == 1, first.stderr
    assert orphan.human_id in first.stdout and "没有处理流程" in first.stdout and "--repair" in first.stdout
    fixed = doctor_cli(desk, "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "已修复" in fixed.stdout
    await eventually(lambda: [e.kind for e in timeline(desk.database_url, orphan.human_id)] == ["opened"])
    clean = doctor_cli(desk)
    assert clean.returncode == 0 and "不一致 0 处" in clean.stdout
    assert "运行中的处理流程 1 个" in clean.stdout  # the patch line: the repaired run is counted


# --- lost workflows: closed incidents stay closed, open ones come back as they were ---------------------


async def test_repair_leaves_closed_incidents_whose_workflows_were_deleted_closed_silent_and_unreported(desk):
    # One handled late (its deadlines three days past: a fresh start would escalate at once), one on time.
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    closed = []
    for title, extra in (("三天前的舆情，已处置结案", {"detected_at": three_days_ago}), ("按时处置并结案的舆情", {})):
        r = await desk.open(title=title, **extra)
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        r = await desk.http.post(f"/api/incidents/{iid}/releases", json={"channel": "政务微博"},
                                 headers=desk.auth("bazhou"))
        assert r.status_code == 200, r.text
        r = await desk.http.post(f"/api/incidents/{iid}/close", json={"reason": "处置完毕"}, headers=desk.auth("super"))
        assert r.status_code == 200, r.text
        closed.append(iid)
    for iid in closed:
        await eventually(lambda iid=iid: "closed" in [e.kind for e in timeline(desk.database_url, iid)])
        await delete_workflow(desk, workflow_id(desk, iid))  # Temporal's retention, done now
    await asyncio.sleep(1)  # let a write or a send still in flight from the deleted runs land first
    sent = len(desk.receiver.messages)
    before = {iid: events(desk.database_url, iid) for iid in closed}

    report = await doctor(desk, repair=True)
    assert report.rows == 2 and report.drift == []
    await asyncio.sleep(3)  # a resurrected run would escalate its long-past deadlines at once
    assert len(desk.receiver.messages) == sent
    for iid in closed:
        assert events(desk.database_url, iid) == before[iid]
        assert await status(desk.client, workflow_id(desk, iid)) is None  # nothing started under its id
    assert {r.status for r in rows(desk.database_url)} == {"closed"}
    out = doctor_cli(desk, "--repair")  # as the operator runs it: nothing to report, nothing done
    assert out.returncode == 0 and "不一致 0 处" in out.stdout, out.stdout + out.stderr
    assert len(desk.receiver.messages) == sent


# Opened under this policy; the doctor later runs with bazhong configured (breach repeats every 2 h there).
OPENED_UNDER = """
name = "快照测试（秒）"

[[milestones]]
key = "acknowledge"
label = "责任单位签收"
due = "1h"
levels = ["I", "II", "III", "IV"]

[[milestones]]
key = "first_release"
label = "发布权威信息"
due = "6s"
levels = ["I", "II", "III", "IV"]

[follow_up]
every = "1d"

[escalation]
reminders = ["50%"]
on_breach = ["party", "party-leaders", "supervisor"]
repeat_every = "4s"
"""


@pytest_asyncio.fixture
async def fast_desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    """A desk configured with a policy in seconds (tests/policies/fast.toml's ladder, the release due in 6 s)."""
    path = tmp_path / "opened-under.toml"
    path.write_text(OPENED_UNDER, encoding="utf-8")
    settings = make_settings(tmp_path, notify_config, policy=str(path))
    async for d in start_desk(temporal_env.client, settings, database_url, receiver):
        yield d


async def test_repair_restarts_a_lost_open_incident_as_it_was_under_the_rules_it_was_opened_under(fast_desk):
    desk = fast_desk
    iid = (await desk.open(title="流程被误删的未结案事件")).json()["id"]
    wid = workflow_id(desk, iid)
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("bazhou"))
    assert r.status_code == 200, r.text
    breach = "first_release/g1/breach"
    await eventually(lambda: breach in [e.payload.get("rung") for e in timeline(desk.database_url, iid)
                                        if e.kind == "escalated"], timeout=30)
    assert len(titled(desk.receiver, "【超时督办】")) == 3  # the party, its leaders, the supervisor
    await delete_workflow(desk, wid)
    await asyncio.sleep(1)
    before = events(desk.database_url, iid)
    assert [e[0] for e in before] == list(range(1, len(before) + 1))

    repaired_at = time.time()
    report = await doctor(desk, repair=True, policy="bazhong")  # the policy file says otherwise today
    [drift] = report.drift
    assert (drift.human_id, drift.problem, drift.repaired) == (iid, "no_workflow", True), drift.error
    assert "按开立时的规则「快照测试（秒）」重建" in drift.describe()

    # Under the rules it was opened under the breach repeats every 4 s (bazhong: every 2 h) ...
    await eventually(lambda: [m for m in titled(desk.receiver, "【再次督办】", "发布权威信息") if m.at > repaired_at],
                     timeout=20)
    # ... and the breach that already went out does not go out again.
    assert len(titled(desk.receiver, "【超时督办】")) == 3
    handle = desk.client.get_workflow_handle(wid)
    clocks = {c.key: c for c in (await handle.query(IncidentWorkflow.current_state)).clocks}
    assert clocks["acknowledge"].state == "met"
    assert clocks["first_release"].state == "overdue" and breach in clocks["first_release"].sent_rungs
    body = (await desk.http.get(f"/api/incidents/{iid}", headers=desk.auth("duty"))).json()
    assert body["status"] == "open"
    assert {m["key"]: m["state"] for m in body["milestones"]}["acknowledge"] == "met"

    # The timeline keeps what it had and continues after it: no second "opened", no gap, no key reused.
    await eventually(lambda: len(timeline(desk.database_url, iid)) > len(before))
    after = events(desk.database_url, iid)
    assert after[:len(before)] == before
    assert [e[0] for e in after] == list(range(1, len(after) + 1))
    assert [e[2] for e in after].count("opened") == 1
    rungs = [e[5]["rung"] for e in after if e[2] in ("escalated", "escalation_repeated")]
    assert len(rungs) == len(set(rungs)) and rungs.count(breach) == 1
    assert (await doctor(desk, policy="bazhong")).drift == []
    await handle.terminate("test over")  # its repeats would otherwise run on without a worker


def test_the_rebuilt_state_counts_every_rung_that_went_out_and_gives_a_moved_deadline_its_breach_anew(database_url):
    """What the restarted run will and will not send, read from the record alone (no Temporal needed)."""
    init_db(database_url)
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    wid = "incident-YQ-2026-000042-abc123"
    with session_scope(database_url) as s:
        incident = Incident(human_id="YQ-2026-000042", workflow_id=wid, title="重建测试", source="weibo",
                            category="accident", level="I", party_code="bazhou", detected_at=t0, opened_at=t0)
        s.add(incident)
        s.flush()
        h = timedelta(hours=1)
        for key, due, state in (("acknowledge", t0 + h, "met_late"), ("first_release", t0 + 5 * h, "pending"),
                                ("press_conference", t0 + 24 * h, "overdue"), ("follow_up", t0 + 30 * h, "pending")):
            s.add(Milestone(incident_id=incident.id, key=key, label=key, due_at=due, state=state,
                            met_at=t0 + 2 * h if state == "met_late" else None))
        seq = 0

        def event(kind: str, rung: str | None = None, due: datetime | None = None) -> None:
            nonlocal seq
            seq += 1
            payload = {"rung": rung, "due_at": due.isoformat()} if rung else {}
            s.add(TimelineEvent(incident_id=incident.id, event_key=f"{wid}/{seq}", seq=seq, kind=kind, at=t0,
                                payload=payload))

        def sent(table, rung: str, status: str, channel: str = "c1") -> None:
            if table is NotificationDelivery:
                s.add(NotificationDelivery(incident_id=incident.id, dedupe_key=f"{wid}/{rung}", channel_id=channel,
                                           status=status))
            else:
                s.add(NotificationAttempt(incident_id=incident.id, dedupe_key=f"{wid}/{rung}", kind="breach",
                                          channel_id=channel, status=status))

        event("opened")
        event("reminder_sent", "acknowledge/g1/reminder50%", t0 + h)
        sent(NotificationDelivery, "acknowledge/g1/breach", "delivered")  # went out; the worker died before its event
        sent(NotificationAttempt, "acknowledge/g1/repeat-1", "delivered")
        sent(NotificationDelivery, "acknowledge/g1/breach/channel-failure", "delivered")  # an alert, not a rung
        event("escalated", "first_release/g1/breach", t0 + 3 * h)  # then a level change moved it to t0+5h
        event("level_changed")
        event("escalated", "press_conference/g1/breach", t0 + 24 * h)
        sent(NotificationDelivery, "press_conference/g1/repeat-2", "accepted_unconfirmed")
        sent(NotificationAttempt, "press_conference/g1/repeat-3", "failed")  # still owed: not sent
        sent(NotificationDelivery, "press_conference/g1/repeat-3", "failed")
        event("escalated", "follow_up/g1/breach", t0 + 10 * h)
        event("released")
        event("reminder_sent", "follow_up/g2/reminder50%", t0 + 30 * h)
        s.commit()

        now = t0 + 40 * h
        state = rebuild_state(s, incident, party=s.get(Party, "bazhou"), policy=load_policy("bazhong"), now=now)
    clocks = {c.key: c for c in state.clocks}
    assert [c.key for c in state.clocks] == ["acknowledge", "first_release", "press_conference", "follow_up"]
    ack = clocks["acknowledge"]
    assert (ack.state, ack.met_at, ack.generation) == ("met_late", t0 + 2 * h, 1)
    assert ack.sent_rungs == ["acknowledge/g1/breach", "acknowledge/g1/reminder50%"] and ack.repeats_sent == 1
    release = clocks["first_release"]
    assert (release.generation, release.sent_rungs, release.repeats_sent) == (2, [], 0)  # its new breach is due
    press = clocks["press_conference"]
    assert (press.generation, press.sent_rungs, press.repeats_sent) == (1, ["press_conference/g1/breach"], 2)
    follow = clocks["follow_up"]
    assert (follow.generation, follow.sent_rungs) == (2, ["follow_up/g2/reminder50%"])
    assert follow.window_start == t0 + 6 * h and ack.window_start == t0 and ack.planned_from == now
    assert (state.status, state.event_seq, state.written_seq, state.follow_up_generation) == ("open", seq, seq, 2)
    assert (state.facts.party_name, state.facts.level) == ("巴州区人民政府", "I")
    # What the ladder makes of it at `now`: the moved deadline's breach and the next repeats, nothing resent.
    due = [r.key for r in clk.due_rungs(state.clocks, load_policy("bazhong"), "bazhou", now)]
    assert "first_release/g2/breach" in due
    assert not [k for k in due if k.startswith("acknowledge/") or k == "press_conference/g1/breach"]
    assert "press_conference/g1/repeat-2" not in due


async def test_a_lost_workflow_whose_row_kept_no_policy_is_restarted_under_the_configured_one_and_says_so(desk):
    iid = (await desk.open(title="升级前开立、未存规则的事件")).json()["id"]
    wid = workflow_id(desk, iid)
    await eventually(lambda: len(timeline(desk.database_url, iid)) >= 1)
    await delete_workflow(desk, wid)
    with session_scope(desk.database_url) as s:  # a row written before the policy was stored with it
        incident = s.exec(select(Incident).where(Incident.human_id == iid)).one()
        assert incident.policy_snapshot["name"] == load_policy("bazhong").name
        incident.policy_snapshot = None
        s.add(incident)
        s.commit()

    report = await doctor(desk, repair=True)
    [drift] = report.drift
    assert drift.repaired, drift.error
    assert f"开立时的规则未随记录保存，按当前配置的规则「{load_policy('bazhong').name}」重建" in drift.describe()
    assert await status(desk.client, wid) == WorkflowExecutionStatus.RUNNING
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("bazhou"))
    assert r.status_code == 200, r.text


async def test_an_open_incident_whose_workflow_was_terminated_is_reported_and_not_restarted(desk):
    iid = (await desk.open(title="处理流程被手动终止的事件")).json()["id"]
    handle = desk.client.get_workflow_handle(workflow_id(desk, iid))
    await eventually(lambda: len(timeline(desk.database_url, iid)) >= 1)
    run_id = (await handle.describe()).run_id
    await handle.terminate("运维误操作")

    report = await doctor(desk, repair=True)
    [drift] = report.drift
    assert (drift.human_id, drift.problem, drift.repaired) == (iid, "workflow_ended", False)
    line = drift.describe()
    assert "已被终止" in line and "不再计时" in line and "不自动重启" in line and "temporal workflow delete" in line
    assert not report.clean and not report.repairable
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED and described.run_id == run_id
    out = doctor_cli(desk, "--repair")
    assert out.returncode == 1 and iid in out.stdout and "已被终止" in out.stdout, out.stdout + out.stderr
    assert "修复。" not in out.stdout  # no advice to run a repair that would not repair it
    assert (await handle.describe()).run_id == run_id


# --- patches: when an old branch can go -------------------------------------------------------------------


@workflow.defn(name="IncidentWorkflow", sandboxed=False)
class IncidentRunOfAnotherRelease:
    """Stands in for incident runs recorded under other code: it took the patches it is told, or (None)
    comes from a release before the "patches" query existed and cannot answer it."""

    @workflow.init
    def __init__(self, taken: dict[str, bool] | None) -> None:
        self.taken = taken

    @workflow.run
    async def run(self, taken: dict[str, bool] | None) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query(name="patches")
    def patches(self) -> dict[str, bool]:
        if self.taken is None:
            raise ApplicationError("no query named patches in this release")
        return self.taken


async def counted(client: Client, task_queue: str, running: int, polled: bool = True):
    """The patch report once visibility lists ``running`` runs (it lags a start or an end a little) and, when
    ``polled``, the server lists the queue's worker among its pollers (it lags the worker's start a little too)."""
    report = await patch_report(client, task_queue=task_queue)
    return report if report.running == running and report.no_worker != polled else None


async def test_doctor_counts_running_incidents_still_older_than_each_patch(temporal_env):
    client = temporal_env.client
    task_queue = f"older-runs-{uuid.uuid4().hex[:8]}"
    old, new = {"record-event-local": True, "durable-delivery": False}, {"record-event-local": True,
                                                                         "durable-delivery": True}
    async with Worker(client, task_queue=task_queue, workflows=[IncidentRunOfAnotherRelease]):
        handles = [await client.start_workflow(IncidentRunOfAnotherRelease.run, taken, task_queue=task_queue,
                                               id=f"incident-YQ-2026-{i:06d}-{uuid.uuid4().hex[:6]}")
                   for i, taken in enumerate([old, old, new, None])]
        report = await eventually(lambda: counted(client, task_queue, 4))
        assert report.older == {"record-event-local": 0, "durable-delivery": 2} and report.unknown == 1
        lines = report.lines()
        assert "其中 1 个无法查询补丁情况" in lines[0]
        assert "运行中的处理流程 4 个；早于补丁 durable-delivery 的 2 个（可在其全部结束后删除旧分支" in lines[1]
        assert "早于补丁 record-event-local 的 0 个（另有 1 个无法查询，查清前保留旧分支）" in lines[2]

        for handle in (handles[0], handles[1], handles[3]):  # the old runs end (and the one that could not say)
            await handle.terminate("ended")
        report = await eventually(lambda: counted(client, task_queue, 1))
        assert report.older == {"record-event-local": 0, "durable-delivery": 0} and report.unknown == 0
        assert report.lines()[0] == ("运行中的处理流程 1 个；早于补丁 durable-delivery 的 0 个"
                                     "（旧分支可改为 deprecate_patch，再删除）")
        await handles[2].terminate("test over")

    # No worker polls this queue: every run is unknown, said at once rather than after a timeout each.
    idle_queue = f"no-worker-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(IncidentRunOfAnotherRelease.run, new, task_queue=idle_queue,
                                         id=f"incident-YQ-2026-999999-{uuid.uuid4().hex[:6]}")
    report = await eventually(lambda: counted(client, idle_queue, 1, polled=False))
    assert report.unknown == 1 and report.no_worker and report.older == {}
    assert "其中 1 个无法查询补丁情况（没有在线的 worker）" in report.lines()[0]
    await handle.terminate("test over")


async def test_doctor_counts_incidents_opened_now_as_newer_than_every_patch(desk):
    from workflows.incident import PATCHES  # the workflow's own list of patch ids

    await desk.open(title="新版本下开立的事件")
    report = await eventually(lambda: counted(desk.client, desk.task_queue, 1))
    assert report.unknown == 0 and report.older == {patch: 0 for patch in PATCHES}


def test_the_rebuilt_state_keeps_the_supporting_parties_and_tasks_with_their_own_clocks(database_url):
    """A lost workflow restarted from SQL still has its supporting parties' and tasks' clocks, to their parties,
    and does not send again what went out."""
    from desk.models import IncidentSupport, IncidentTask

    init_db(database_url)
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    h = timedelta(hours=1)
    with session_scope(database_url) as s:
        incident = Incident(human_id="YQ-2026-000043", workflow_id="incident-YQ-2026-000043-abc123", title="重建",
                            source="weibo", category="accident", level="III", party_code="bazhou", detected_at=t0,
                            opened_at=t0)
        s.add(incident)
        s.flush()
        s.add(IncidentSupport(incident_id=incident.id, party_code="enyang", n=1, added_at=t0, ack_due_at=t0 + h,
                              ack_state="overdue"))
        s.add(IncidentTask(incident_id=incident.id, n=1, party_code="enyang", text="核实", due_at=t0 + 3 * h,
                           assigned_at=t0 + h, state="overdue"))
        s.add(TimelineEvent(incident_id=incident.id, event_key="k1", seq=1, kind="escalated", at=t0 + 3 * h,
                            payload={"rung": "task-1/g1/breach", "due_at": (t0 + 3 * h).isoformat()}))
        s.commit()
        state = rebuild_state(s, incident, party=s.get(Party, "bazhou"), policy=load_policy("bazhong"), now=t0 + 4 * h)
    clocks = {c.key: c for c in state.clocks}
    assert [(c.party, c.state, c.window_start) for c in (clocks["support-1"], clocks["task-1"])] == [
        ("enyang", "overdue", t0), ("enyang", "overdue", t0 + h)]
    assert clocks["task-1"].sent_rungs == ["task-1/g1/breach"]
    assert [(p.party_code, p.party_name) for p in state.supporting] == [("enyang", "恩阳区人民政府")]
    assert state.tasks[0].text == "核实"
    due = [r.key for r in clk.due_rungs(state.clocks, load_policy("bazhong"), "bazhou", t0 + 4 * h)]
    assert "support-1/g1/breach" in due and "task-1/g1/breach" not in due
