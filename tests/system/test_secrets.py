"""Notification URLs carry secrets (bot keys, passwords, auth headers): they never reach an API answer,
the notification log or the application's logs — only apprise's privacy form (``****``) does."""

from __future__ import annotations

import json
import logging
from datetime import UTC

import httpx
import pytest_asyncio
from sqlmodel import select

from desk.db import session_scope
from desk.models import NotificationAttempt
from tests.helpers import FAST, METRICS_AUTH, PASSWORD, eventually, make_settings, start_desk

PASSWORD_SECRET = "S3cretPassw0rd"
HEADER_SECRET = "HeaderTok3nXyz"
SECRETS = (PASSWORD_SECRET, HEADER_SECRET)


@pytest_asyncio.fixture
async def secret_desk(temporal_env, tmp_path, database_url, receiver):
    dead = f"127.0.0.1:{_closed_port()}"
    config = tmp_path / "notify.yml"
    config.write_text("\n".join([
        "urls:",
        # delivered: credentials in the URL and a token in a custom header
        f"  - json://deskbot:{PASSWORD_SECRET}@127.0.0.1:{receiver.port}/bazhou?+X-Token={HEADER_SECRET}:",
        "    - tag: bazhou",
        # failing (nothing listens): the error path must not leak them either
        f"  - json://deskbot:{PASSWORD_SECRET}@{dead}/bazhou?+Authorization=Bearer%20{HEADER_SECRET}:",
        "    - tag: bazhou",
        f"  - {receiver.url('supervisor')}:",
        "    - tag: supervisor",
    ]) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path, config, policy=str(FAST), drill_policy=str(FAST))
    async for d in start_desk(temporal_env.client, settings, database_url, receiver):
        yield d


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attempts(database_url: str) -> list[NotificationAttempt]:
    with session_scope(database_url) as s:
        return list(s.exec(select(NotificationAttempt)).all())


async def test_channel_secrets_never_appear_in_answers_records_or_logs(secret_desk, caplog):
    desk = secret_desk
    caplog.set_level(logging.DEBUG)
    iid = (await desk.open(party="bazhou", title="渠道密钥不得外泄")).json()["id"]

    def both_outcomes():
        rows = attempts(desk.database_url)
        return {r.status for r in rows} >= {"delivered", "failed"}

    await eventually(both_outcomes, timeout=60)
    assert desk.receiver.tagged("bazhou"), "the reminder reached the working channel"

    rows = attempts(desk.database_url)
    stored = json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False)
    assert "deskbot" in stored and "****" in stored  # the channel is named, its secret masked
    for secret in SECRETS:
        assert secret not in stored, f"{secret} stored in the notification log"

    answers = []
    for who in ("duty", "bazhou", "super", "admin"):
        for path in (f"/api/incidents/{iid}/timeline", f"/api/incidents/{iid}", "/api/incidents", "/api/board"):
            r = await desk.http.get(path, headers=desk.auth(who))
            answers.append(r.text)
    answers.append((await desk.http.get("/metrics", headers=METRICS_AUTH)).text)
    timeline = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("super"))).json()
    failed = [n for n in timeline["notifications"] if n["status"] == "failed"]
    assert failed and failed[0]["error"], "the failure is visible, with its reason"
    for secret in SECRETS:
        assert not any(secret in a for a in answers), f"{secret} shown in an API answer"

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "notification channels failed" in logged  # the failure was logged ...
    for secret in SECRETS:
        assert secret not in logged, f"{secret} written to the logs"  # ... without the secret


async def test_responders_see_the_service_and_tags_of_a_delivery_never_the_channel_address(secret_desk):
    from datetime import datetime

    from sqlmodel import select as sql_select

    from api.presenters import CHANNEL_DETAIL_HIDDEN, DELIVERY_KEYS
    from desk.models import Incident, TimelineEvent
    from tests.helpers import csrf_of

    desk = secret_desk
    iid = (await desk.open(party="bazhou", title="联络员只看服务和标签")).json()["id"]
    await eventually(lambda: {r.status for r in attempts(desk.database_url)} >= {"delivered", "failed"}, timeout=60)
    # A failure as the workflow records it once the retries are spent: its text names the channel.
    with session_scope(desk.database_url) as s:
        incident = s.exec(sql_select(Incident).where(Incident.human_id == iid)).one()
        at = datetime.now(UTC)
        s.add(TimelineEvent(incident_id=incident.id, event_key=f"{incident.workflow_id}/98", seq=98,
                            kind="notification_failed", actor="system", at=at,  # as runs before durable delivery
                            payload={"milestone": "acknowledge", "rung": "acknowledge/reminder/0", "tags": ["bazhou"],
                                     "error": "JSON: deskbot:****@127.0.0.1 refused the connection",
                                     "alert_error": "JSON: deskbot:****@127.0.0.1", "channel": "json://deskbot:****@127.0.0.1"}))
        s.add(TimelineEvent(incident_id=incident.id, event_key=f"{incident.workflow_id}/99", seq=99,
                            kind="channel_failure_escalated", actor="system", at=at,  # as durable delivery does
                            payload={"milestone": "acknowledge", "rung": "acknowledge/reminder/0", "tries": 5,
                                     "channels": 1, "error": "JSON: deskbot:****@127.0.0.1 refused the connection",
                                     "delivered_now": ["json://deskbot:****@127.0.0.1/bazhou"]}))
        s.commit()

    r = await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("bazhou"))
    shown = r.json()
    assert shown["notifications"] and all(n["service"] and n["tags"] and n["channel"] == "" and n["error"] == ""
                                          for n in shown["notifications"])
    assert {n["status"] for n in shown["notifications"]} >= {"delivered", "failed"}  # whether it arrived: yes
    failures = [e for e in shown["events"] if e["kind"] in ("notification_failed", "channel_failure_escalated")]
    assert len(failures) == 2
    for failed in failures:
        assert set(failed["payload"]) <= DELIVERY_KEYS | {"error", "channels"}
        assert failed["payload"]["error"] == CHANNEL_DETAIL_HIDDEN
    assert failures[1]["payload"]["channels"] == 1 and failures[1]["payload"]["tries"] == 5
    for leak in ("deskbot", "127.0.0.1", "****"):
        assert leak not in r.text, f"{leak} shown to a responder"
    supervisor = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("super"))).text
    assert "deskbot:****@127.0.0.1" in supervisor  # those who look after the channels still see which one

    async with httpx.AsyncClient(transport=desk.http._transport, base_url="http://desk.test") as browser:
        token = csrf_of((await browser.get("/login")).text)
        r = await browser.post("/login", data={"username": "bazhou", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303
        page = (await browser.get(f"/incidents/{iid}")).text
    assert "渠道详情仅值班员和督办人员可见" in page
    for leak in ("deskbot", "127.0.0.1", "****"):
        assert leak not in page, f"{leak} on a responder's incident page"
