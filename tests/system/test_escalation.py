"""Reminders and escalations, end to end: real dev server, real apprise json:// to a local receiver.

The `fast` policy (tests/policies/fast.toml) runs the acknowledgement ladder in seconds:
reminder at 50% (3 s) to the party, breach at 6 s to party + leaders + supervisor, repeat every 4 s.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlmodel import select

from desk.db import session_scope
from desk.messages import Acknowledge
from desk.models import NotificationAttempt, TimelineEvent
from tests.helpers import FAST, eventually, make_settings, start_desk, workflow_id
from worker import build_worker
from workflows.incident import IncidentWorkflow


@pytest_asyncio.fixture
async def fast_desk(temporal_env, tmp_path, notify_config, database_url, receiver):
    settings = make_settings(tmp_path, notify_config, policy=str(FAST), drill_policy=str(FAST))
    async for d in start_desk(temporal_env.client, settings, database_url, receiver):
        yield d


def events(database_url: str, kind: str | None = None) -> list[TimelineEvent]:
    with session_scope(database_url) as s:
        query = select(TimelineEvent).order_by(TimelineEvent.incident_id, TimelineEvent.seq)
        if kind:
            query = query.where(TimelineEvent.kind == kind)
        return list(s.exec(query).all())


def attempts(database_url: str) -> list[NotificationAttempt]:
    with session_scope(database_url) as s:
        return list(s.exec(select(NotificationAttempt)).all())


def assert_each_rung_once(desk) -> Counter:
    """Every channel got each rung exactly once: receiver count per tag == delivered rungs for that tag."""
    rows = attempts(desk.database_url)
    delivered = Counter((r.dedupe_key, r.channel_id) for r in rows if r.status == "delivered")
    assert all(n == 1 for n in delivered.values()), delivered
    per_tag = Counter()
    for r in rows:
        if r.status == "delivered":
            per_tag[r.channel.split("?")[0].rstrip("/").rsplit("/", 1)[-1]] += 1
    seen = Counter(m.path.strip("/") for m in desk.receiver.messages)
    assert seen == per_tag, (seen, per_tag)
    return seen


async def test_reminder_breach_and_repeat_reach_the_right_people(fast_desk):
    desk = fast_desk
    iid = (await desk.open(party="bazhou")).json()["id"]
    await eventually(lambda: len(desk.receiver.tagged("supervisor")) >= 2, timeout=30)  # breach + first repeat
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("bazhou"))
    assert r.status_code == 200
    ack = next(m for m in r.json()["milestones"] if m["key"] == "acknowledge")
    assert ack["state"] == "met_late"
    settled = len(desk.receiver.messages)
    await asyncio.sleep(6)  # longer than the repeat interval: acknowledging stopped the ladder
    assert len(desk.receiver.messages) == settled

    reminder = desk.receiver.tagged("bazhou")[0]
    assert reminder.title.startswith("【时限提醒】") and iid in reminder.title
    assert "责任单位签收" in reminder.body and "剩余" in reminder.body and "巴州区人民政府" in reminder.body
    assert f"http://desk.test/incidents/{iid}" in reminder.body
    breach = desk.receiver.tagged("bazhou-leaders")[0]
    assert breach.title.startswith("【超时督办】") and "已超时" in breach.body and "（北京时间）" in breach.body
    assert not desk.receiver.tagged("enyang") and not desk.receiver.tagged("enyang-leaders")

    seen = assert_each_rung_once(desk)
    repeats = len(events(desk.database_url, "escalation_repeated"))
    assert repeats >= 1
    assert seen["bazhou"] == 1 + 1 + repeats  # reminder, breach, repeats
    assert seen["bazhou-leaders"] == seen["supervisor"] == 1 + repeats
    kinds = [e.kind for e in events(desk.database_url)]
    assert kinds[:3] == ["opened", "reminder_sent", "escalated"] and kinds.count("acknowledged") == 1
    # Nothing is escalated after the acknowledgement but the one repeat already on its way when it arrived
    # (sent before the acknowledgement was applied, so recorded after it).
    assert kinds[kinds.index("acknowledged") + 1:] in ([], ["escalation_repeated"])


async def test_acknowledging_in_time_stops_the_acknowledgement_ladder(fast_desk):
    desk = fast_desk
    iid = (await desk.open(party="enyang")).json()["id"]
    await eventually(lambda: desk.receiver.tagged("enyang"), timeout=20)  # the 50% reminder
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("enyang"))
    assert next(m for m in r.json()["milestones"] if m["key"] == "acknowledge")["state"] == "met"
    await asyncio.sleep(8)  # past the 6 s deadline
    assert not desk.receiver.tagged("enyang-leaders") and not desk.receiver.tagged("supervisor")
    assert len(desk.receiver.tagged("enyang")) == 1


async def test_upgrade_to_extraordinary_at_hour_30_escalates_the_press_conference_at_once(desk):
    detected = datetime.now(UTC) - timedelta(hours=30)
    r = await desk.open(level="IV", detected_at=detected.isoformat())
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    # the acknowledgement deadline (1 h) passed long ago: escalated at once, but only once
    await eventually(lambda: len(desk.receiver.tagged("supervisor")) == 1, timeout=20)
    r = await desk.http.post(f"/api/incidents/{iid}/level", json={"level": "I", "reason": "伤亡人数上升，升级为特别重大"},
                             headers=desk.auth("super"))
    assert r.status_code == 200, r.text
    press = next(m for m in r.json()["milestones"] if m["key"] == "press_conference")
    assert datetime.fromisoformat(press["due_at"]) == detected + timedelta(hours=24)

    def press_escalations():
        return [m for m in desk.receiver.tagged("supervisor") if "举行新闻发布会" in m.body]

    found = await eventually(press_escalations, timeout=20)
    assert found[0].title.startswith("【超时督办】") and "已超时：6小时" in found[0].body
    await asyncio.sleep(2)
    assert len(press_escalations()) == 1  # no burst of reminders or repeats that were already past
    level_changed = events(desk.database_url, "level_changed")[0]
    assert level_changed.payload["added"] == ["press_conference"] and level_changed.actor == "super"


async def test_drill_messages_are_marked(fast_desk):
    desk = fast_desk
    r = await desk.open(drill=True, party="bazhou")
    assert r.status_code == 201 and r.json()["drill"] is True
    first = await eventually(lambda: desk.receiver.tagged("bazhou"), timeout=20)
    assert first[0].title.startswith("【演练】") and first[0].body.startswith("【演练】")


async def test_worker_stopped_mid_ladder_sends_each_due_rung_exactly_once(temporal_env, tmp_path, notify_config,
                                                                          database_url, receiver):
    settings = make_settings(tmp_path, notify_config, policy=str(FAST))
    async for desk in start_desk(temporal_env.client, settings, database_url, receiver):
        iid = (await desk.open(party="bazhou")).json()["id"]
        await eventually(lambda: receiver.tagged("bazhou"), timeout=20)  # reminder delivered, then the worker stops
    assert len(receiver.tagged("bazhou")) == 1
    await asyncio.sleep(9)  # breach (6 s) and the first repeat (10 s) fall due while no worker runs
    assert not receiver.tagged("supervisor")

    worker = build_worker(temporal_env.client, settings, task_queue=desk.task_queue, database_url=database_url)
    async with worker:
        await eventually(lambda: len(events(database_url, "escalation_repeated")) >= 1, timeout=30)
        handle = temporal_env.client.get_workflow_handle(workflow_id(desk, iid))
        await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou"))
    seen = assert_each_rung_once(desk)
    repeats = len(events(database_url, "escalation_repeated"))
    assert seen["supervisor"] == 1 + repeats
    assert seen["bazhou"] == 2 + repeats



async def test_a_continued_run_carries_its_clocks_and_event_numbers(fast_desk):
    """What continue-as-new hands over (the state) is enough: no second "opened", seq goes on, rungs not resent."""
    from desk import clocks as clk
    from desk.messages import IncidentFacts, IncidentInput, IncidentState
    from desk.policy import load_policy

    desk = fast_desk
    policy = load_policy(FAST)
    now = datetime.now(UTC)
    facts = IncidentFacts(incident_id=900, human_id="YQ-2026-000900", title="续跑测试", category="accident", level="III",
                          party_code="bazhou", party_name="巴州区人民政府", detected_at=now, opened_at=now,
                          reporter="duty")
    clocks = clk.open_clocks(policy, "III", now, now)
    ack = clocks[0]
    reminder = clk.ladder(ack, policy, "bazhou", ack.due_at)[0]
    clocks[0] = clk.MilestoneClock(**{**ack.__dict__, "sent_rungs": [reminder.key]})  # already sent by the old run
    state = IncidentState(facts=facts, clocks=clocks, event_seq=5)
    from desk.models import Incident

    with session_scope(desk.database_url) as s:  # the row the first run wrote
        s.add(Incident(id=900, human_id=facts.human_id, workflow_id=f"incident-continued-{desk.task_queue}",
                       title=facts.title, source="other", category="accident", level="III", party_code="bazhou",
                       detected_at=now, opened_at=now, version=5))
        s.commit()
    handle = await desk.client.start_workflow(
        IncidentWorkflow.run, IncidentInput(facts=facts, policy=policy, public_url="http://desk.test", state=state),
        id=f"incident-continued-{desk.task_queue}", task_queue=desk.task_queue)
    await eventually(lambda: events(desk.database_url, "escalated"), timeout=20)
    await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou"))
    got = [(e.seq, e.kind) for e in events(desk.database_url)]
    assert got[0] == (6, "escalated") and "opened" not in [k for _, k in got]
    assert [s for s, _ in got] == list(range(6, 6 + len(got)))
    assert not [m for m in desk.receiver.tagged("bazhou") if m.title.startswith("【时限提醒】")]
    await handle.terminate("test over")


async def test_rungs_due_before_any_worker_picked_the_incident_up_are_sent_late_not_skipped(
        temporal_env, tmp_path, notify_config, database_url, receiver):
    settings = make_settings(tmp_path, notify_config, policy=str(FAST))
    async for desk in start_desk(temporal_env.client, settings, database_url, receiver):  # noqa: B007 (used below)
        pass  # users and schema; its worker has stopped again
    import httpx

    from api.app import create_app

    app = create_app(settings, client=temporal_env.client, database_url=database_url, task_queue=desk.task_queue)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        r = await http.post("/api/incidents", headers=desk.auth("duty"),
                            json={"title": "无人值守时登记", "category": "accident", "level": "III", "party": "bazhou"})
        assert r.status_code == 201, r.text
    await asyncio.sleep(4)  # the 50% reminder (3 s) falls due while no worker runs
    async with build_worker(temporal_env.client, settings, task_queue=desk.task_queue, database_url=database_url):
        await eventually(lambda: events(database_url, "escalated"), timeout=30)
    kinds = [e.kind for e in events(database_url)]
    assert kinds[:3] == ["opened", "reminder_sent", "escalated"]
    assert receiver.tagged("bazhou")[0].title.startswith("【时限提醒】")
