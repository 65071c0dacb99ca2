"""Probes a load balancer and an orchestrator rely on: /healthz (alive) and /readyz (database and Temporal)."""

from __future__ import annotations

import socket

import httpx
from temporalio.client import Client

from api.app import create_app
from desk.db import init_db
from tests.helpers import make_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _get(app, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        return await http.get(path)


async def test_ready_when_database_and_temporal_answer(desk):
    r = await desk.http.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "temporal": "ok"}}
    assert (await desk.http.get("/healthz")).status_code == 200


async def test_not_ready_while_temporal_is_unreachable(tmp_path, database_url):
    init_db(database_url)
    client = await Client.connect(f"127.0.0.1:{_closed_port()}", lazy=True)
    app = create_app(make_settings(tmp_path, None), client=client, database_url=database_url)

    r = await _get(app, "/readyz")

    assert r.status_code == 503
    # Which part is down, and nothing of why: no address, driver or error text for an anonymous prober.
    assert r.json() == {"status": "unavailable", "checks": {"database": "ok", "temporal": "error"}}
    assert (await _get(app, "/healthz")).status_code == 200  # alive: do not restart it, just route around it


async def test_not_ready_while_the_database_is_unreachable(tmp_path, temporal_env):
    unreachable = f"postgresql+psycopg://desk@127.0.0.1:{_closed_port()}/desk?connect_timeout=3"
    app = create_app(make_settings(tmp_path, None), client=temporal_env.client, database_url=unreachable)

    r = await _get(app, "/readyz")

    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "checks": {"database": "error", "temporal": "ok"}}
    assert "127.0.0.1" not in r.text and "psycopg" not in r.text.lower() and "Error" not in r.text
