"""Every incident row has a workflow and every incident workflow a row, even after a crash or a restore.

- Temporal unreachable when an incident is opened: the API answers 503 with a sentence and leaves no
  row behind (nothing half-made; the duty officer submits again later).
- A crash between the API's two steps (row written, workflow not started): `opinion-desk doctor`
  reports it, and `--repair` starts the workflow from the row, clocks still counted from detection.
- A database restored from an older backup (workflow running, row gone): doctor reports it and the
  repair rebuilds the row from the workflow's state.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from sqlmodel import delete, select
from temporalio.client import Client

from api.app import create_app
from api.schemas import IncidentCreate
from api.service import Desk as ServiceDesk
from api import service
from desk.db import session_scope
from desk.doctor import DOCTOR, reconcile
from desk.models import Incident, Milestone, NotificationAttempt, TimelineEvent, User
from desk.policy import load_policy
from tests.conftest import PASSWORD, TEST_SECRET_KEY, eventually

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(database_url: str) -> list[Incident]:
    with session_scope(database_url) as s:
        return list(s.exec(select(Incident)).all())


def timeline(database_url: str, human_id: str) -> list[TimelineEvent]:
    with session_scope(database_url) as s:
        incident = s.exec(select(Incident).where(Incident.human_id == human_id)).one()
        return list(s.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                           .order_by(TimelineEvent.seq)).all())


async def doctor(desk, repair: bool = False):
    return await reconcile(
        desk.client, database_url=desk.database_url, task_queue=desk.task_queue,
        policy=load_policy(desk.settings.policy), drill_policy=load_policy(desk.settings.drill_policy),
        public_url=desk.settings.resolved_public_url, repair=repair, grace=timedelta(0))


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
            await service.open_incident(session, api_desk, data, duty)
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
    await eventually(lambda: len(timeline(desk.database_url, iid)) == 1)
    assert (await desk.http.post(f"/api/incidents/{iid}/notes", headers=desk.auth("duty"),
                                 json={"text": "回档前的备注"})).status_code == 200
    with session_scope(desk.database_url) as s:  # restore from a backup taken before the incident
        incident = s.exec(select(Incident).where(Incident.human_id == iid)).one()
        for table in (TimelineEvent, Milestone, NotificationAttempt):
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
    assert [(e.seq, e.kind, e.actor) for e in events] == [(3, "note", DOCTOR)]  # continues the workflow's count
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
            await service.open_incident(session, api_desk, IncidentCreate(
                title="命令行对账", category="public_opinion", party="bazhou"), duty)
        monkeypatch.undo()
    [orphan] = rows(desk.database_url)
    env = dict(os.environ, DESK_DATABASE_URL=desk.database_url,
               DESK_TEMPORAL_ADDRESS=desk.client.service_client.config.target_host,
               DESK_TEMPORAL_TASK_QUEUE=desk.task_queue, DESK_DATA_DIR=str(desk.settings.data_dir),
               DESK_SECRET_KEY=TEST_SECRET_KEY, DESK_LOG_JSON="false")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "desk.cli", "doctor", "--grace", "0", *args], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    first = cli()
    assert first.returncode == 1, first.stderr
    assert orphan.human_id in first.stdout and "没有处理流程" in first.stdout and "--repair" in first.stdout
    fixed = cli("--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "已修复" in fixed.stdout
    await eventually(lambda: [e.kind for e in timeline(desk.database_url, orphan.human_id)] == ["opened"])
    clean = cli()
    assert clean.returncode == 0 and "不一致 0 处" in clean.stdout
