"""Scale-out: two real worker processes on one task queue share the open incidents; SIGKILL one in the
middle of the ladders and every due rung still reaches the receiver exactly once.

Worker A starts alone and takes the first incidents (their workflows are cached on A); worker B joins
and the rest are shared. A is then killed without warning (SIGKILL: no cleanup, activities may be
cut short). Temporal moves A's workflows to B; B's replay must not resend what A already sent, and
nothing due while A was gone may be lost. The rungs expected are computed by desk.clocks from the
policy (tests/policies/scale-out.toml: acknowledgement due in 6 s, reminder at 50%, repeat every 4 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from api.app import create_app
from api.auth import create_user
from desk import clocks as clk
from desk.db import init_db, session_scope
from desk.models import Incident, NotificationAttempt, TimelineEvent
from desk.policy import load_policy
from desk.temporal import run_chain
from tests.helpers import PASSWORD, POLICIES, eventually, free_port, make_settings
from workflows.incident import IncidentWorkflow

pytestmark = pytest.mark.slow

POLICY_FILE = POLICIES / "scale-out.toml"
POLICY = load_policy(POLICY_FILE)
RUNG_EVENTS = ("reminder_sent", "escalated", "escalation_repeated")
PARTY = "bazhou"


class WorkerProcess:
    """`python -m desk.cli worker` in a process of its own, configured only through DESK_* variables."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.metrics_port = free_port()
        self.log_path = cwd / f"worker-{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desk.cli", "worker"], cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
            env={**env, "DESK_WORKER_METRICS_PORT": str(self.metrics_port)}, start_new_session=True,
        )
        self.identity = f"{self.proc.pid}@{socket.gethostname()}"  # the SDK's default worker identity

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines

    def incidents_handled(self) -> set[str]:
        return {line["incident"] for line in self.log_lines() if line.get("logger", "").startswith("desk.")
                and "incident" in line}

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


async def _polling(client, task_queue: str, identity: str) -> bool:
    """True once the worker polls the task queue for both workflow and activity tasks."""
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind))
        if identity not in {p.identity for p in resp.pollers}:
            return False
    return True


def _rows(database_url: str):
    with session_scope(database_url) as s:
        incidents = {i.id: i for i in s.exec(select(Incident)).all()}
        events = s.exec(select(TimelineEvent).where(TimelineEvent.kind.in_(RUNG_EVENTS))).all()
        attempts = s.exec(select(NotificationAttempt)).all()
    return incidents, events, attempts


# When each incident's workflow made its schedule (reminders already past then are skipped, not sent).
planned_from: dict[str, datetime] = {}


def _expected(incident: Incident, until: datetime) -> dict[str, clk.Rung]:
    """The rungs of this incident's acknowledgement ladder due at or before ``until``."""
    rule = POLICY.rule("acknowledge")
    due = incident.detected_at + timedelta(seconds=rule.due_seconds[incident.level])
    clock = clk.MilestoneClock(key=rule.key, label=rule.label, window_start=incident.detected_at, due_at=due,
                               planned_from=planned_from[incident.human_id])
    return {r.key: r for r in clk.ladder(clock, POLICY, PARTY, until)}


def _quiet_instant(incidents: list[Incident], after: datetime) -> datetime:
    """The first instant from ``after`` with no rung of any incident just before or after it, so the
    kill lands between ladder steps rather than inside an activity (a notification activity cut short
    is retried only when its 2-minute timeout runs out: correct, but slow for a test; and one killed
    between the HTTP post and writing its delivery row would be sent again on retry: at-least-once is
    all an HTTP channel without idempotency keys allows). All incidents share one detected_at, so their
    rungs fall together and the gaps between them are quiet."""
    times = [r.at for i in incidents for r in _expected(i, after + timedelta(minutes=1)).values()]
    t = after
    while any(at - timedelta(seconds=0.5) <= t <= at + timedelta(seconds=2.5) for at in times):
        t += timedelta(seconds=0.1)
    return t


async def test_two_workers_share_incidents_and_a_killed_one_loses_no_rung(
        temporal_env, tmp_path, notify_config, database_url, receiver):
    client = temporal_env.client
    task_queue = f"scale-out-{uuid.uuid4().hex[:8]}"
    init_db(database_url)
    with session_scope(database_url) as session:
        create_user(session, username="duty", password=PASSWORD, role="duty_officer")
        create_user(session, username="bazhou", password=PASSWORD, role="responder", party_code=PARTY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env.update(
        DESK_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        DESK_TEMPORAL_NAMESPACE=client.namespace,
        DESK_TEMPORAL_TASK_QUEUE=task_queue,
        DESK_DATABASE_URL=database_url,
        DESK_NOTIFY_CONFIG=str(notify_config),
        DESK_POLICY=str(POLICY_FILE),
        DESK_DATA_DIR=str(tmp_path),
        DESK_LOG_JSON="true",
    )
    settings = make_settings(tmp_path, notify_config, policy=str(POLICY_FILE))
    app = create_app(settings, client=client, database_url=database_url, task_queue=task_queue)
    workers: list[WorkerProcess] = []
    try:
        a = WorkerProcess("a", env, tmp_path)
        workers.append(a)
        await eventually(lambda: _polling(client, task_queue, a.identity), timeout=90, interval=0.5)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
            tokens = {}
            for who in ("duty", "bazhou"):
                r = await http.post("/api/auth/token", data={"username": who, "password": PASSWORD})
                tokens[who] = {"Authorization": f"Bearer {r.json()['access_token']}"}

            detected_at = datetime.now(UTC)

            async def open_incident(n: int) -> str:
                r = await http.post("/api/incidents", headers=tokens["duty"], json={
                    "title": f"扩容测试事件 {n}", "category": "accident", "level": "III", "party": PARTY,
                    "source": "weibo", "detected_at": detected_at.isoformat()})
                assert r.status_code == 201, r.text
                human_id = r.json()["id"]
                with session_scope(database_url) as s:
                    wid = s.exec(select(Incident.workflow_id).where(Incident.human_id == human_id)).one()
                state = await client.get_workflow_handle(wid).query(IncidentWorkflow.current_state)
                planned_from[human_id] = state.clocks[0].planned_from
                return human_id

            first = [await open_incident(n) for n in range(3)]  # only A polls: A runs these
            b = WorkerProcess("b", env, tmp_path)
            workers.append(b)
            await eventually(lambda: _polling(client, task_queue, b.identity), timeout=90, interval=0.5)
            second = [await open_incident(n) for n in range(3, 6)]
            human_ids = first + second

            # Mid-ladder: A has sent the first incidents' reminders and breaches; repeats are still to come.
            def first_breaches_recorded() -> bool:
                incidents, events, _ = _rows(database_url)
                by_id = {i.human_id: i.id for i in incidents.values()}
                escalated = {e.incident_id for e in events if e.kind == "escalated"}
                return all(by_id[h] in escalated for h in first)

            await eventually(first_breaches_recorded, timeout=90)
            assert a.incidents_handled() & set(first), "worker A did no work before it was killed"

            incidents = list(_rows(database_url)[0].values())
            kill_at = _quiet_instant(incidents, datetime.now(UTC))
            await asyncio.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            kill_at = datetime.now(UTC)

            # Every rung due up to 12 s after the kill (three more per ladder) must be sent, by B.
            cutoff = kill_at + timedelta(seconds=12)

            def due_rungs_recorded() -> bool:
                if datetime.now(UTC) < cutoff:
                    return False
                incidents, events, _ = _rows(database_url)
                sent = {(e.incident_id, e.payload["rung"]) for e in events}
                return all((i.id, key) in sent for i in incidents.values() for key in _expected(i, cutoff))

            await eventually(due_rungs_recorded, timeout=240, interval=0.5)

            # Stop the ladders: the responder acknowledges every incident (through B, the one worker left).
            for human_id in human_ids:
                r = await http.post(f"/api/incidents/{human_id}/acknowledge", json={"note": "已收到"},
                                    headers=tokens["bazhou"])
                assert r.status_code == 200, r.text

            # Let a rung already in flight at acknowledgement land, then look at the record.
            snapshots: list[tuple[int, int, int]] = []

            def settled() -> bool:
                _, events, attempts = _rows(database_url)
                snapshots.append((len(events), len(attempts), len(receiver.messages)))
                return len(snapshots) > 1 and snapshots[-1] == snapshots[-2]

            await eventually(settled, timeout=120, interval=3)

            metrics = httpx.get(f"http://127.0.0.1:{b.metrics_port}/metrics", timeout=10).text
            b.proc.send_signal(signal.SIGTERM)  # what `docker stop` sends: a clean stop, exit code 0
            assert b.proc.wait(timeout=60) == 0, b.log_path.read_text()[-2000:]
    finally:
        for w in workers:
            w.stop()

    incidents, events, attempts = _rows(database_url)
    by_human = {i.human_id: i for i in incidents.values()}
    assert set(by_human) == set(human_ids)
    sent_by_incident: dict[int, list[str]] = {}
    for e in events:
        sent_by_incident.setdefault(e.incident_id, []).append(e.payload["rung"])

    for human_id in human_ids:
        incident = by_human[human_id]
        sent = sent_by_incident.get(incident.id, [])
        # Each rung recorded once on the timeline...
        assert [k for k, n in Counter(sent).items() if n > 1] == [], f"{human_id}: rung recorded twice"
        # ...every rung due before the cutoff is there, and nothing that is not a rung of this ladder.
        due = _expected(incident, cutoff)
        assert set(due) <= set(sent), f"{human_id}: lost rungs {sorted(set(due) - set(sent))}"
        possible = _expected(incident, datetime.now(UTC))
        assert set(sent) <= set(possible), f"{human_id}: unexpected rungs {sorted(set(sent) - set(possible))}"

        # Delivery log: one delivered attempt per rung per channel, for exactly the rung's tags.
        delivered = [row for row in attempts if row.incident_id == incident.id and row.status == "delivered"]
        pairs = Counter((row.dedupe_key, row.channel_id) for row in delivered)
        assert [p for p, n in pairs.items() if n > 1] == [], f"{human_id}: a channel got a rung twice"
        for key in sent:
            rung_rows = [row for row in delivered if row.dedupe_key.endswith(f"/{key}")]
            assert len(rung_rows) == len(possible[key].tags), f"{human_id} {key}: {len(rung_rows)} deliveries"

        # The receiver: per tag, exactly one message per rung sent to that tag.
        for tag in ("bazhou", "bazhou-leaders", "supervisor"):
            wanted = sum(1 for key in sent if tag in possible[key].tags)
            got = [m for m in receiver.tagged(tag) if human_id in m.title]
            assert len(got) == wanted, f"{human_id} at {tag}: {len(got)} messages for {wanted} rungs"

    # The work moved: A's incidents were finished by B (their later workflow tasks ran on B). An incident
    # continues as new every hundred events or so: its whole life is the chain of runs, not the latest one.
    for human_id in first:
        identities = {
            e.workflow_task_completed_event_attributes.identity
            for run in await run_chain(client, by_human[human_id].workflow_id)
            for e in run.events
            if e.HasField("workflow_task_completed_event_attributes")
        }
        assert {a.identity, b.identity} <= identities, f"{human_id}: workflow tasks ran on {identities}"
    assert b.incidents_handled() >= set(first), "B did not take over A's incidents"
    assert (a.incidents_handled() | b.incidents_handled()) == set(human_ids)

    # Both processes logged structured lines; every line of the activities names its incident.
    for w in workers:
        about = [line for line in w.log_lines() if line["logger"] in ("desk.records", "desk.notify")]
        assert about and all(line.get("incident", "").startswith("YQ-") for line in about), w.name
    # And B exported its Temporal SDK metrics.
    assert "temporal_workflow_task_execution_latency" in metrics or "temporal_activity_execution_latency" in metrics
