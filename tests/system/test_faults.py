"""Faults against the real system: workers SIGKILLed mid-ladder, the Temporal server killed and restarted on
its SQLite file, notification channels failing (HTTP 500, refused, hanging) then recovering. After each:
every incident still open, every due rung delivered once per channel, the timeline complete (seq 1..n),
failures in the notification log and escalated to `supervisor`.
Outages of minutes (the database away 5 min, a channel down 3 min) are in tests/system/test_long_faults.py.

Policy: tests/policies/fast.toml (acknowledge due 6 s, reminder at 50 %, repeats every 4 s). Workers run
as subprocesses (`python -m desk.cli worker`) so they can be killed; the API runs in the test's process.
Every test prints a FAULT line with its figures (docs/reliability.md collects them).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client

from desk import clocks as clk
from desk.models import Incident, Milestone, NotificationAttempt, TimelineEvent
from desk.policy import load_policy
from tests.helpers import FAST, Desk, Receiver, TemporalServer, Worker, api_desk, eventually, rows, start_channels, worker_env

pytestmark = pytest.mark.slow

POLICY = load_policy(FAST)
RUNG_EVENTS = ("reminder_sent", "escalated", "escalation_repeated", "notification_failed")


@pytest.fixture
def channels(tmp_path):
    """A receiver per tag, each on its own port so that one can refuse connections while the others take them."""
    chans = start_channels(tmp_path)
    yield chans
    for c in chans.values():
        c.stop()


# --- what must hold after every fault ----------------------------------------------------------------------


@dataclass
class Outcome:
    incidents: int = 0
    rungs_expected: int = 0
    rungs_delivered: int = 0
    messages_expected: int = 0
    messages_seen: int = 0
    duplicates_at_receiver: int = 0
    failed_attempts: int = 0
    lost: int = 0


def settled(database_url: str, incidents: list[str]) -> bool:
    """Every incident acknowledged and its last rung event written."""
    for iid in incidents:
        [inc] = rows(database_url, Incident, human_id=iid)
        ack = [m for m in rows(database_url, Milestone, incident_id=inc.id) if m.key == "acknowledge"]
        if not ack or ack[0].state not in ("met", "met_late"):
            return False
    return True


def verify(database_url: str, incidents: list[str], chans: dict[str, Receiver], slack: float = 2.0) -> Outcome:
    out = Outcome(incidents=len(incidents))
    delivered_rows = [a for a in rows(database_url, NotificationAttempt) if a.status == "delivered"]
    per_channel = Counter((a.dedupe_key, a.channel_id) for a in delivered_rows)
    assert all(n == 1 for n in per_channel.values()), "a rung recorded as delivered twice to one channel"
    delivered_keys = Counter(a.dedupe_key for a in delivered_rows)
    out.failed_attempts = len([a for a in rows(database_url, NotificationAttempt) if a.status == "failed"])
    for iid in incidents:
        [inc] = rows(database_url, Incident, human_id=iid)
        assert inc.status == "open", f"{iid} is {inc.status}"
        events = sorted(rows(database_url, TimelineEvent, incident_id=inc.id), key=lambda e: e.seq)
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), f"{iid}: timeline gap"
        assert events[0].kind == "opened" and [e.kind for e in events].count("acknowledged") == 1
        [ack] = [m for m in rows(database_url, Milestone, incident_id=inc.id) if m.key == "acknowledge"]
        clock = clk.MilestoneClock(key="acknowledge", label="", window_start=inc.detected_at, due_at=ack.due_at,
                                   planned_from=inc.opened_at)
        expected = {r.key: r for r in clk.ladder(clock, POLICY, inc.party_code, ack.met_at - timedelta(seconds=slack))}
        sent = {e.payload["rung"]: e for e in events if e.kind in RUNG_EVENTS}
        missing = set(expected) - set(sent)
        assert not missing, f"{iid}: due rungs never sent: {sorted(missing)}"
        wf = inc.workflow_id
        # A message owed to a channel stops being due when its milestone is met (SPEC §5): recorded as
        # cancelled, or superseded by a newer repeat to the same channel. Not lost.
        no_longer_due = {e.payload["rung"] for e in events if e.kind == "notification_cancelled"}
        no_longer_due |= {k for e in events for k in e.payload.get("superseded", [])}
        for key, event in sent.items():
            out.rungs_expected += 1
            tags = event.payload["tags"]
            got = delivered_keys.get(f"{wf}/{key}", 0)
            if event.kind == "notification_failed" or (got < len(tags) and key in no_longer_due):
                alerts = [e for e in events if e.kind == "channel_failure_escalated" and e.payload["rung"] == key]
                assert alerts or key in no_longer_due, f"{iid}: {key} failed and nobody was told"
                out.rungs_delivered += 1
                continue
            if got != len(tags):
                out.lost += 1
            else:
                out.rungs_delivered += 1
            out.messages_expected += len(tags)
    out.messages_seen = sum(len(c.received) for c in chans.values())
    delivered_messages = len(delivered_rows)
    out.duplicates_at_receiver = out.messages_seen - delivered_messages
    assert out.messages_seen >= delivered_messages
    return out


def report(name: str, runs: int, out: Outcome) -> None:
    print(f"\nFAULT {name}: runs={runs} incidents={out.incidents} rungs expected={out.rungs_expected} "
          f"delivered={out.rungs_delivered} messages expected={out.messages_expected} seen={out.messages_seen} "
          f"duplicates={out.duplicates_at_receiver} failed_attempts={out.failed_attempts} lost={out.lost}")


async def acknowledge_all(desk: Desk, incidents: list[str]) -> None:
    for iid in incidents:
        party = rows(desk.database_url, Incident, human_id=iid)[0].party_code
        r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth(party))
        assert r.status_code == 200, r.text


async def caught_up(desk: Desk, incidents: list[str]) -> None:
    """Wait until every rung due a couple of seconds ago has been recorded."""
    async def check():
        for iid in incidents:
            [inc] = rows(desk.database_url, Incident, human_id=iid)
            [ack] = [m for m in rows(desk.database_url, Milestone, incident_id=inc.id) if m.key == "acknowledge"]
            clock = clk.MilestoneClock(key="acknowledge", label="", window_start=inc.detected_at, due_at=ack.due_at,
                                       planned_from=inc.opened_at)
            from desk.models import utcnow

            due = {r.key for r in clk.ladder(clock, POLICY, inc.party_code, utcnow() - timedelta(seconds=2))}
            sent = {e.payload["rung"] for e in rows(desk.database_url, TimelineEvent, incident_id=inc.id)
                    if e.kind in RUNG_EVENTS}
            if not due <= sent:
                behind[iid] = sorted(due - sent)
                return False
        return True

    behind: dict[str, list[str]] = {}
    try:
        await eventually(check, timeout=180, interval=0.5)
    except AssertionError:
        raise AssertionError(f"rungs due but not sent: {behind}") from None


async def settle_and_verify(desk: Desk, incidents: list[str], chans: dict[str, Receiver],
                            slack: float = 2.0) -> Outcome:
    """After a fault: wait until caught up, acknowledge everything, let a repeat interval pass
    (nothing more may go out after acknowledgement), then check what must hold."""
    await caught_up(desk, incidents)
    await acknowledge_all(desk, incidents)
    await asyncio.sleep(5)
    return verify(desk.database_url, incidents, chans, slack)


# --- the faults --------------------------------------------------------------------------------------------


async def test_worker_killed_at_random_points_of_the_ladder(temporal_env, tmp_path, database_url, channels):
    task_queue = f"faults-{uuid.uuid4().hex[:8]}"
    desk = await api_desk(temporal_env.client, tmp_path, database_url, task_queue)
    address = temporal_env.client.service_client.config.target_host
    worker = Worker(worker_env(tmp_path, address, task_queue, database_url), tmp_path / "worker.log")
    rng = random.Random(int(os.environ.get("DESK_FAULT_SEED", "6")))
    worker.start()
    await worker.ready()
    incidents = []
    try:
        for party in ("bazhou", "enyang", "bazhou"):
            r = await desk.open(party=party, title=f"杀进程测试 {party}")
            assert r.status_code == 201
            incidents.append(r.json()["id"])
        for _ in range(5):
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            worker.kill()
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            worker.start()
        # Tasks of a workflow cached by the killed worker wait out its sticky queue (10 s) before another
        # worker takes them, so an acknowledgement can be applied that much later than it was sent; rungs
        # due in that window are withheld (the incident is acknowledged by then), not lost.
        out = await settle_and_verify(desk, incidents, channels, slack=12.0)
    finally:
        worker.stop()
        await desk.http.aclose()
    report("worker SIGKILL", worker.kills, out)
    assert worker.kills == 5 and out.lost == 0


async def test_temporal_server_killed_and_restarted_on_its_sqlite_file(tmp_path, database_url, channels):
    server = TemporalServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    await server.start()
    client = await Client.connect(server.address)
    task_queue = f"faults-{uuid.uuid4().hex[:8]}"
    desk = await api_desk(client, tmp_path, database_url, task_queue)
    worker = Worker(worker_env(tmp_path, server.address, task_queue, database_url), tmp_path / "worker.log")
    worker.start()
    await worker.ready()
    incidents, restarts = [], 0
    try:
        for party in ("bazhou", "enyang"):
            incidents.append((await desk.open(party=party, title="引擎重启测试")).json()["id"])
        await eventually(lambda: channels["bazhou"].received, timeout=30)  # the ladder is running
        for _ in range(2):
            server.kill()
            restarts += 1
            r = await desk.open(party="bazhou", title="引擎停机时开立")
            assert r.status_code == 503 and "流程引擎" in r.json()["detail"]
            assert len(rows(database_url, Incident)) == len(incidents)  # nothing half-made
            await asyncio.sleep(5)  # breach and repeats fall due while the server is down
            await server.start()
        out = await settle_and_verify(desk, incidents, channels)
    finally:
        worker.stop()
        server.kill()
        await desk.http.aclose()
    report("Temporal server SIGKILL + restart", restarts, out)
    assert out.lost == 0


async def test_channels_fail_500_refused_and_hanging_then_recover(temporal_env, tmp_path, database_url, channels):
    task_queue = f"faults-{uuid.uuid4().hex[:8]}"
    desk = await api_desk(temporal_env.client, tmp_path, database_url, task_queue)
    address = temporal_env.client.service_client.config.target_host
    worker = Worker(worker_env(tmp_path, address, task_queue, database_url), tmp_path / "worker.log")
    worker.start()
    await worker.ready()
    incidents = []
    try:
        # enyang's channel stays broken past the retries: the failure must reach the supervisor.
        channels["enyang"].set("500")
        incidents.append((await desk.open(party="enyang", title="渠道长期故障")).json()["id"])
        for mode in ("500", "refused", "hang"):
            channels["bazhou"].set(mode)
            iid = (await desk.open(party="bazhou", title=f"渠道故障 {mode}")).json()["id"]
            incidents.append(iid)
            await asyncio.sleep(8)  # the reminder (3 s) and the breach (6 s) fail on this channel
            channels["bazhou"].set("ok")
            await eventually(lambda: len([e for e in rows(database_url, TimelineEvent) if e.kind in RUNG_EVENTS
                                          and e.payload["rung"].endswith("/breach")]) >= len(incidents), timeout=120)
        await eventually(lambda: rows(database_url, TimelineEvent, kind="channel_failure_escalated"), timeout=120)
        alert = [m for m in channels["supervisor"].received if m.startswith("【通知渠道故障】")]
        channels["enyang"].set("ok")
        out = await settle_and_verify(desk, incidents, channels)
        failed = rows(database_url, NotificationAttempt, status="failed")
        timeline = (await desk.http.get(f"/api/incidents/{incidents[0]}/timeline", headers=desk.auth("super"))).json()
    finally:
        worker.stop()
        await desk.http.aclose()
    assert failed and all(a.error for a in failed), "each failed attempt is logged with its reason"
    assert any(n["status"] == "failed" for n in timeline["notifications"])  # visible in the incident's log
    assert alert, "the supervisor was told that a channel keeps failing"
    report("channel 500 / refused / hang, then recovery (+1 channel failing past retries)", 4, out)
    assert out.lost == 0


async def test_an_action_while_the_incidents_workflow_task_is_failing_waits_for_it_instead_of_a_503(
        temporal_env, tmp_path, database_url):
    """A worker that fails the incident's workflow task (here: a build whose workflow raises; in life, workers
    killed in the middle of the task, or timing out) puts the task in Temporal's retry loop, and from the third
    attempt Temporal refuses updates at once ("Workflow Task in failed state"). An acknowledgement clicked then got
    503 at once; now the API asks again, as the same update, and it goes through once a good worker has the task
    (~10 s here)."""
    from temporalio.worker import UnsandboxedWorkflowRunner
    from temporalio.worker import Worker as SdkWorker

    from worker import build_worker

    (tmp_path / "notify.yml").write_text("urls:\n  - json://127.0.0.1:9/unused:\n    - tag: unused\n")
    task_queue = f"faults-{uuid.uuid4().hex[:8]}"
    desk = await api_desk(temporal_env.client, tmp_path, database_url, task_queue)
    try:
        async with SdkWorker(temporal_env.client, task_queue=task_queue, workflows=[BrokenBuild],
                             workflow_runner=UnsandboxedWorkflowRunner(), max_cached_workflows=0):
            r = await desk.open(title="工作流任务失败时签收")
            assert r.status_code == 201, r.text
            iid = r.json()["id"]
            handle = temporal_env.client.get_workflow_handle(rows(database_url, Incident, human_id=iid)[0].workflow_id)

            async def failing() -> bool:
                pending = (await handle.describe()).raw_description.pending_workflow_task
                return pending.attempt >= 3  # Temporal refuses updates from the third attempt on

            await eventually(failing, timeout=30)
        ack = asyncio.create_task(desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("bazhou"),
                                                 json={"note": "收到"}))
        await asyncio.sleep(1.5)  # the first ask is refused while no good worker has the task
        assert not ack.done(), (await ack).text
        async with build_worker(temporal_env.client, desk.settings, task_queue=task_queue, database_url=database_url):
            r = await ack
            assert r.status_code == 200, r.text
    finally:
        await desk.http.aclose()
    assert [e.kind for e in rows(database_url, TimelineEvent, kind="acknowledged")] == ["acknowledged"]


@workflow.defn(name="IncidentWorkflow", sandboxed=False)
class BrokenBuild:
    """A build of the incident workflow that fails every task it is given."""

    @workflow.run
    async def run(self, inp: dict) -> None:
        raise RuntimeError("a broken build")
