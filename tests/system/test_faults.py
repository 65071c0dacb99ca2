"""Faults against the real system: workers SIGKILLed mid-ladder, the Temporal server killed and restarted on
its SQLite file, notification channels failing (HTTP 500, refused, hanging) then recovering. After each: every incident still open, every due rung delivered once per
channel, the timeline complete (seq 1..n), failures in the notification log and escalated to `supervisor`.
Outages of minutes (the database away 5 min, a channel down 3 min) are in tests/test_long_faults.py.

Policy: tests/policies/fast.toml (acknowledge due 6 s, reminder at 50 %, repeats every 4 s). Workers run
as subprocesses (`python -m desk.cli worker`) so they can be killed; the API runs in the test's process.
Every test prints a FAULT line with its figures (docs/reliability.md collects them).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from api.auth import create_user
from desk import clocks as clk
from desk.db import init_db, session_scope
from desk.models import Incident, Milestone, NotificationAttempt, TimelineEvent
from desk.policy import load_policy
from tests.conftest import PASSWORD, TEST_SECRET_KEY, USERS, Desk, eventually, free_port, make_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FAST = Path(__file__).parent / "policies" / "fast.toml"
POLICY = load_policy(FAST)
RUNG_EVENTS = ("reminder_sent", "escalated", "escalation_repeated", "notification_failed")
TAGS = ("bazhou", "bazhou-leaders", "enyang", "enyang-leaders", "supervisor")


# --- a receiver per tag that can fail in each way -----------------------------------------------------------


@dataclass
class Channel:
    """One tag's endpoint on its own port: ok, 500, refused (nothing listening), or hang past the timeout."""

    tag: str
    port: int = field(default_factory=free_port)
    mode: str = "ok"
    received: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # desk_message_id of each message taken
    failed: int = 0
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if channel.mode == "hang":
                    channel.failed += 1
                    time.sleep(8)  # apprise gives up first; the message is dropped, as a stuck server would
                    self.close_connection = True
                    return
                if channel.mode == "500":
                    channel.failed += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                data = json.loads(raw or b"{}")
                channel.received.append(f"{data.get('title', '')}\n{data.get('message', '')}")
                channel.message_ids.append(data.get("desk_message_id", ""))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:  # connection refused from now on
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set(self, mode: str) -> None:
        if mode == "refused":
            self.stop()
        elif self.server is None:
            self.start()
        self.mode = "ok" if mode == "refused" else mode


def start_channels(folder: Path) -> dict[str, Channel]:
    """A channel per tag, and the apprise config pointing at them in ``folder/notify.yml``."""
    chans = {tag: Channel(tag) for tag in TAGS}
    for c in chans.values():
        c.start()
    lines = ["urls:"]
    for c in chans.values():
        lines += [f"  - json://127.0.0.1:{c.port}/{c.tag}:", f"    - tag: {c.tag}"]
    (folder / "notify.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return chans


@pytest.fixture
def channels(tmp_path):
    chans = start_channels(tmp_path)
    yield chans
    for c in chans.values():
        c.stop()


# --- worker and Temporal server as processes ---------------------------------------------------------------


class Worker:
    def __init__(self, env: dict, log: Path) -> None:
        self.env, self.log, self.proc = env, log, None
        self.kills = 0

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "desk.cli", "worker"], cwd=ROOT, env=self.env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)

    async def ready(self) -> None:
        """Polling: an incident opened before that would find no worker to plan its ladder."""
        await eventually(lambda: self.log.read_text(errors="replace").count("polling task queue") >= 1,
                         timeout=60, interval=0.2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.kills += 1

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class TemporalServer:
    def __init__(self, db_file: Path, log: Path) -> None:
        self.db_file, self.log = db_file, log
        self.port, self.proc = free_port(), None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        cmd = [str(Path(sys.executable).parent / "temporal"), "server", "start-dev", "--db-filename",
               str(self.db_file), "--ip", "127.0.0.1", "--port", str(self.port), "--ui-port", str(free_port()),
               "--headless", "--log-level", "error", "--search-attribute", "DeskParty=Keyword",
               "--search-attribute", "DeskLevel=Keyword"]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

        async def ready():
            try:
                client = await Client.connect(self.address)
                await client.service_client.check_health()
                return True
            except Exception:
                return False

        await eventually(ready, timeout=90, interval=0.5)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


def worker_env(tmp_path: Path, address: str, task_queue: str, database_url: str) -> dict:
    return dict(os.environ, DESK_TEMPORAL_ADDRESS=address, DESK_TEMPORAL_TASK_QUEUE=task_queue,
                DESK_DATABASE_URL=database_url, DESK_NOTIFY_CONFIG=str(tmp_path / "notify.yml"),
                DESK_DATA_DIR=str(tmp_path), DESK_SECRET_KEY=TEST_SECRET_KEY, DESK_LOG_JSON="false",
                DESK_PUBLIC_URL="http://desk.test")


async def api_desk(client: Client, tmp_path: Path, database_url: str, task_queue: str, policy: Path = FAST):
    """The web app in this process (no worker in it), with the conftest users logged in."""
    settings = make_settings(tmp_path, tmp_path / "notify.yml", policy=str(policy), drill_policy=str(policy))
    init_db(database_url)
    with session_scope(database_url) as session:
        for name, (role, party) in USERS.items():
            create_user(session, username=name, password=PASSWORD, role=role, party_code=party)
    app = create_app(settings, client=client, database_url=database_url, task_queue=task_queue)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test", timeout=120)
    tokens = {}
    for name in USERS:
        r = await http.post("/api/auth/token", data={"username": name, "password": PASSWORD})
        tokens[name] = r.json()["access_token"]
    return Desk(client, http, settings, database_url, task_queue, tokens, receiver=None)


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


def rows(database_url: str, model, **where):
    with session_scope(database_url) as s:
        query = select(model)
        for k, v in where.items():
            query = query.where(getattr(model, k) == v)
        return list(s.exec(query).all())


def settled(database_url: str, incidents: list[str]) -> bool:
    """Every incident acknowledged and its last rung event written."""
    for iid in incidents:
        [inc] = rows(database_url, Incident, human_id=iid)
        ack = [m for m in rows(database_url, Milestone, incident_id=inc.id) if m.key == "acknowledge"]
        if not ack or ack[0].state not in ("met", "met_late"):
            return False
    return True


def verify(database_url: str, incidents: list[str], chans: dict[str, Channel], slack: float = 2.0) -> Outcome:
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


async def settle_and_verify(desk: Desk, incidents: list[str], chans: dict[str, "Channel"],
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
