"""Activities on their own: a retried activity writes nothing twice and sends nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import func, select
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from desk import clocks as clk
from desk.db import init_db, session_scope
from desk.messages import IncidentFacts, IncidentState, Notify, RecordEvent, TimelineEntry
from desk.models import Incident, Milestone, NotificationAttempt, TimelineEvent
from desk.policy import load_policy

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)


def facts() -> IncidentFacts:
    return IncidentFacts(incident_id=42, human_id="YQ-2026-000042", title="暴雨致城区内涝", category="natural_disaster",
                         level="II", party_code="bazhou", party_name="巴州区人民政府", detected_at=T0, opened_at=T0,
                         reporter="duty")


def record(seq: int, kind: str, state: IncidentState) -> RecordEvent:
    state.event_seq = seq
    entry = TimelineEntry(event_key=f"incident-x/{seq}", seq=seq, kind=kind, actor="bazhou", at=T0 + timedelta(minutes=seq))
    return RecordEvent(state=state, entry=entry, policy_name="巴中市")


def count(url, table) -> int:
    with session_scope(url) as s:
        return s.exec(select(func.count()).select_from(table)).one()


async def test_a_retried_record_writes_the_event_once_and_an_old_snapshot_never_wins(database_url):
    init_db(database_url)
    recorder = Recorder(database_url)
    env = ActivityEnvironment()
    state = IncidentState(facts=facts(), clocks=clk.open_clocks(load_policy("bazhong"), "II", T0, T0))
    opened = record(1, "opened", state)
    env.run(recorder.record_event, opened)
    env.run(recorder.record_event, opened)  # the worker died after writing; Temporal retried
    assert count(database_url, TimelineEvent) == 1
    assert count(database_url, Milestone) == 2

    met = IncidentState(facts=facts(), clocks=[clk.meet(c, T0 + timedelta(minutes=2)) for c in state.clocks])
    env.run(recorder.record_event, record(2, "acknowledged", met))
    stale = IncidentState(facts=facts(), clocks=clk.open_clocks(load_policy("bazhong"), "II", T0, T0))
    stale.event_seq = 1
    env.run(recorder.record_event, RecordEvent(state=stale, entry=TimelineEntry(
        event_key="incident-x/late", seq=1, kind="note", actor="x", at=T0), policy_name="巴中市"))
    with session_scope(database_url) as s:
        incident = s.get(Incident, 42)
        states = {m.key: m.state for m in s.exec(select(Milestone)).all()}
    assert incident.version == 2 and states == {"acknowledge": "met", "first_release": "met"}


async def test_a_retried_notification_skips_channels_that_already_got_it(database_url, notify_config, receiver):
    init_db(database_url)
    env = ActivityEnvironment()
    env.run(Recorder(database_url).record_event, record(1, "opened", IncidentState(facts=facts())))
    notifier = Notifier(load_channels(notify_config), database_url)
    message = Notify(dedupe_key="incident-x/acknowledge/g1/breach", incident_id=42, human_id="YQ-2026-000042",
                     title="暴雨致城区内涝", level="II", party_name="巴州区人民政府", kind="breach",
                     tags=["bazhou", "bazhou-leaders", "supervisor"], milestone="acknowledge",
                     milestone_label="责任单位签收", due_at=T0 + timedelta(hours=1), link="http://desk.test/x")
    receiver.fail_tags = {"supervisor"}
    try:
        await env.run(notifier.send_notification, message)
        raise AssertionError("a failing channel must fail the activity so Temporal retries it")
    except Exception as exc:  # noqa: BLE001 — the ApplicationError naming the failed channel
        assert "1 个通知渠道发送失败" in str(exc)
    receiver.fail_tags = set()
    outcome = await env.run(notifier.send_notification, message)  # the retry
    assert (outcome.matched, outcome.skipped, outcome.delivered) == (3, 2, 1)
    assert [m.path for m in receiver.messages].count("/bazhou") == 1
    assert [m.path for m in receiver.messages].count("/supervisor") == 1
    with session_scope(database_url) as s:
        rows = s.exec(select(NotificationAttempt).order_by(NotificationAttempt.id)).all()
    assert [(r.status, r.attempt) for r in rows if "supervisor" in r.channel] == [("failed", 1), ("delivered", 1)]
    assert all("token" not in r.channel for r in rows)
