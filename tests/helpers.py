"""Fixtures for the page tests: the real app under uvicorn on a free local port, a worker, Chromium.

The app runs in a background thread with its own event loop and connects to the session's Temporal
dev server itself (the production path through the lifespan); the worker runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlmodel import select

from api.app import create_app
from api.auth import create_user
from desk.db import init_db, session_scope
from desk.models import Incident
from tests.conftest import PASSWORD, USERS, free_port, make_settings
from worker import build_worker

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


@pytest_asyncio.fixture
async def web_desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, notify_config, public_url=base_url,
                             temporal_address=temporal_env.client.service_client.config.target_host)
    task_queue = f"web-test-{uuid.uuid4().hex[:8]}"
    init_db(database_url)
    with session_scope(database_url) as session:
        for name, (role, party) in USERS.items():
            create_user(session, username=name, password=PASSWORD, role=role, party_code=party,
                        display_name={"bazhou": "巴州区联络员", "enyang": "恩阳区联络员", "duty": "市值班员"}.get(name, name))
    app = create_app(settings, database_url=database_url, task_queue=task_queue)
    worker = build_worker(temporal_env.client, settings, task_queue=task_queue, database_url=database_url)
    async with worker, uvicorn_thread(app, port):
        yield WebDesk(base_url, database_url, task_queue)


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


@pytest_asyncio.fixture(scope="session")
async def browser():
    if not CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture
async def context(browser, web_desk):
    """A fresh browser profile (zh-CN, Beijing time, phone-and-laptop friendly size) that logs every request."""
    ctx = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1100, "height": 900})
    ctx.set_default_timeout(30_000)
    ctx.requests = []  # every URL the pages asked for
    ctx.on("request", lambda request: ctx.requests.append(request.url))
    yield ctx
    await ctx.close()
