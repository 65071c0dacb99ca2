"""Activities on their own: a retried activity writes nothing twice and sends nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from desk import clocks as clk
from desk.db import init_db, session_scope
from desk.messages import Deliver, IncidentFacts, IncidentState, Notify, RecordBatch, RecordEvent, TimelineEntry
from desk.models import Incident, Milestone, NotificationAttempt, NotificationDelivery, TimelineEvent
from desk.notify_text import message_id
from desk.policy import load_policy

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


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


def test_a_batch_brings_the_row_and_its_milestones_to_the_state_and_an_older_batch_adds_only_its_events(database_url):
    """record_batch's statements (not the ORM's unit of work since issue 17's ninth round): a milestone the state
    dropped is deleted, one it added inserted, one that changed updated, the row's deadline and version follow;
    a retried batch writes nothing twice; an older batch's events go in, its state does not."""
    init_db(database_url)
    recorder, env = Recorder(database_url), ActivityEnvironment()
    with session_scope(database_url) as s:  # the API writes the row before the workflow starts
        s.add(Incident(id=42, human_id="YQ-2026-000042", workflow_id="incident-x", title="暴雨致城区内涝", source="other",
                       category="natural_disaster", level="II", party_code="bazhou", detected_at=T0, opened_at=T0))
        s.commit()
    opened = IncidentState(facts=facts(), clocks=clk.open_clocks(load_policy("bazhong"), "II", T0, T0))
    first = batch(opened, TimelineEntry(event_key="incident-x/1", seq=1, kind="opened", actor="duty", at=T0))
    env.run(recorder.record_batch, first)
    env.run(recorder.record_batch, first)  # retried
    ack, release = opened.clocks
    later = IncidentState(facts=facts(), clocks=[
        clk.meet(ack, T0 + timedelta(minutes=5)),
        clk.MilestoneClock(key="press_conference", label="新闻发布会", window_start=T0, due_at=T0 + timedelta(hours=24),
                           planned_from=T0)])
    env.run(recorder.record_batch, batch(later, TimelineEntry(
        event_key="incident-x/2", seq=2, kind="acknowledged", actor="bazhou", at=T0 + timedelta(minutes=5),
        payload={"note": "已签收"})))
    env.run(recorder.record_batch, batch(opened, TimelineEntry(  # an older state, a new event
        event_key="incident-x/late", seq=1, kind="note", actor="duty", at=T0, payload={"text": "补记"})))
    with session_scope(database_url) as s:
        incident = s.get(Incident, 42)
        rows = {m.key: (m.state, m.met_at, m.due_at) for m in s.exec(select(Milestone)).all()}
        events = [(e.event_key, e.kind) for e in s.exec(select(TimelineEvent).order_by(TimelineEvent.id)).all()]
    assert release.key not in rows
    assert rows == {"acknowledge": ("met", T0 + timedelta(minutes=5), ack.due_at),
                    "press_conference": ("pending", None, T0 + timedelta(hours=24))}
    assert (incident.version, incident.next_due_at, incident.overdue) == (2, T0 + timedelta(hours=24), False)
    assert events == [("incident-x/1", "opened"), ("incident-x/2", "acknowledged"), ("incident-x/late", "note")]


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


# --- since "durable-delivery" -----------------------------------------------------------------------------


def deliver_message(**overrides) -> Deliver:
    fields = dict(dedupe_key="incident-x/acknowledge/g1/breach", incident_id=42, human_id="YQ-2026-000042",
                  title="暴雨致城区内涝", level="II", party_name="巴州区人民政府", kind="breach",
                  tags=["bazhou", "bazhou-leaders", "supervisor"], milestone="acknowledge",
                  milestone_label="责任单位签收", due_at=T0 + timedelta(hours=1), link="http://desk.test/x")
    fields.update(overrides)
    return Deliver(**fields)


def batch(state: IncidentState, *entries: TimelineEntry) -> RecordBatch:
    state.event_seq = max((e.seq for e in entries), default=state.event_seq)
    return RecordBatch(state=state, entries=list(entries), policy_name="巴中市")


async def test_a_channel_that_took_a_message_is_never_posted_it_again_and_every_message_carries_its_id(
        database_url, notify_config, receiver):
    init_db(database_url)
    ActivityEnvironment().run(Recorder(database_url).record_batch, batch(IncidentState(facts=facts()), TimelineEntry(
        event_key="incident-x/opened", seq=1, kind="opened", actor="duty", at=T0)))
    notifier = Notifier(load_channels(notify_config), database_url)
    env = ActivityEnvironment()
    receiver.fail_tags = {"supervisor"}
    first = await env.run(notifier.deliver, deliver_message())
    assert first.matched == 3
    assert sorted(r.status for r in first.results) == ["delivered", "delivered", "failed"]
    receiver.fail_tags = set()
    # A retry that asks for every channel: the first try's report was lost (its worker, or the Temporal
    # server, died after the post), so the workflow never logged those two deliveries. They are reported
    # now as the ledger holds them, with the time they happened, and not posted again.
    again = await env.run(notifier.deliver, deliver_message(attempt=2))
    assert sorted(r.status for r in again.results) == ["delivered", "delivered", "delivered"]
    firsts = {r.channel_id: r.at for r in first.results if r.status == "delivered"}
    ledger_times = {r.channel_id: r.at for r in again.results if r.channel_id in firsts}
    assert ledger_times.keys() == firsts.keys()
    assert all(abs(ledger_times[c] - firsts[c]) < timedelta(seconds=2) for c in firsts)
    assert all(r.service and r.channel for r in again.results)
    paths = [m.path for m in receiver.messages]
    assert sorted(paths) == ["/bazhou", "/bazhou-leaders", "/supervisor"]  # each channel once
    ids = {m.body.rsplit("消息编号：", 1)[1] for m in receiver.messages}
    assert ids == {message_id("incident-x/acknowledge/g1/breach")}  # the same id on every channel
    with session_scope(database_url) as s:
        ledger = s.exec(select(NotificationDelivery)).all()
    assert len(ledger) == 3 and {r.status for r in ledger} == {"delivered"}


async def _posting_slowly(database_url, notify_config, receiver, env: ActivityEnvironment):  # noqa: ANN202
    """An incident's row, and a message to two channels whose first try (run in ``env``) is posting to a receiver that
    answers after a second: its claims are held. Returns the notifier, the message and the first try's task."""
    import asyncio

    init_db(database_url)
    ActivityEnvironment().run(Recorder(database_url).record_batch, batch(IncidentState(facts=facts()), TimelineEntry(
        event_key="incident-x/opened", seq=1, kind="opened", actor="duty", at=T0)))
    notifier = Notifier(load_channels(notify_config), database_url)
    receiver.slow_seconds = 1.0
    message = deliver_message(tags=["bazhou", "supervisor"])
    first = asyncio.create_task(env.run(notifier.deliver, message))
    for _ in range(200):  # until the first is posting: its claims are held
        if count(database_url, NotificationDelivery) == 2 or first.done():
            break
        await asyncio.sleep(0.05)
    assert not first.done(), first.result()
    return notifier, message, first


async def test_the_same_try_asked_twice_at_once_posts_once_and_reports_the_delivery_both_times(
        database_url, notify_config, receiver):
    """A message's first try runs as a local activity; when its workflow task is retried while it is posting
    (or its activity is retried), the same try is asked again while its own claim is held. It waits for that
    post and reports it, instead of a failed attempt that nobody made; a different try is still refused."""
    import asyncio

    notifier, message, first = await _posting_slowly(database_url, notify_config, receiver, ActivityEnvironment())
    rival = asyncio.create_task(ActivityEnvironment().run(notifier.deliver, deliver_message(
        tags=["bazhou", "supervisor"], attempt=2)))
    again = await ActivityEnvironment().run(notifier.deliver, message)
    done, refused = await first, await rival
    assert sorted(r.status for r in done.results) == ["delivered", "delivered"]
    assert sorted(r.status for r in again.results) == ["delivered", "delivered"]  # not "另一次发送尚未结束"
    assert {r.channel_id: r.at for r in again.results}.keys() == {r.channel_id for r in done.results}
    assert sorted(m.path for m in receiver.messages) == ["/bazhou", "/supervisor"]  # posted once each
    assert [(r.status, r.error) for r in refused.results] == [("failed", "另一次发送尚未结束")] * 2


async def test_a_try_called_off_while_posting_lets_the_post_finish_and_the_same_try_again_reports_it(
        database_url, notify_config, receiver):
    """A local first try is called off when its workflow task times out (a worker stalled or overloaded), often
    with its post already on its way. The post goes on and its outcome goes in the ledger; the same try, asked
    again by the retried task, waits on its own claim and reports the delivery. Before, the called-off try freed
    its claims and the retry posted again: a 【新交办】 reached a channel up to 5 times under a burst."""
    import asyncio

    env = ActivityEnvironment()
    notifier, message, first = await _posting_slowly(database_url, notify_config, receiver, env)
    await asyncio.sleep(0.2)  # the posts are on their way
    env.cancel()
    with pytest.raises(BaseException):  # noqa: B017 (called off: the SDK's cancellation, whatever its class)
        await first
    again = await ActivityEnvironment().run(notifier.deliver, message)
    assert sorted(r.status for r in again.results) == ["delivered", "delivered"], again.results
    assert sorted(m.path for m in receiver.messages) == ["/bazhou", "/supervisor"]  # posted once each
    with session_scope(database_url) as s:
        assert {r.status for r in s.exec(select(NotificationDelivery)).all()} == {"delivered"}


async def test_a_message_for_an_incident_whose_row_is_not_written_yet_is_posted_without_a_claim_and_the_ledger_goes_on(
        database_url, notify_config, receiver):
    """A workflow started without the API sends before its first record: no ledger row can point at the incident
    yet. The message still goes out on every channel, without a claim; once the row is there, messages are claimed
    and finished in the ledger as usual."""
    init_db(database_url)
    notifier = Notifier(load_channels(notify_config), database_url)
    outcome = await ActivityEnvironment().run(notifier.deliver, deliver_message(tags=["bazhou", "supervisor"]))
    assert sorted(r.status for r in outcome.results) == ["delivered", "delivered"]
    assert count(database_url, NotificationDelivery) == 0
    ActivityEnvironment().run(Recorder(database_url).record_batch, batch(IncidentState(facts=facts()), TimelineEntry(
        event_key="incident-x/opened", seq=1, kind="opened", actor="duty", at=T0)))
    later = await ActivityEnvironment().run(notifier.deliver, deliver_message(
        dedupe_key="incident-x/release/g1/remind", tags=["bazhou", "supervisor"]))
    assert sorted(r.status for r in later.results) == ["delivered", "delivered"]
    with session_scope(database_url) as s:
        ledger = s.exec(select(NotificationDelivery)).all()
    assert sorted((r.dedupe_key, r.status) for r in ledger) == [("incident-x/release/g1/remind", "delivered")] * 2
    assert sorted(m.path for m in receiver.messages) == ["/bazhou", "/bazhou", "/supervisor", "/supervisor"]


async def test_sending_goes_on_without_the_database(tmp_path, notify_config, receiver):
    """The desk's database cannot be reached at all: the message still goes out, and the workflow is told."""
    notifier = Notifier(load_channels(notify_config), f"sqlite:///{tmp_path / 'missing' / 'desk.db'}")
    outcome = await ActivityEnvironment().run(notifier.deliver, deliver_message(tags=["bazhou"]))
    assert [r.status for r in outcome.results] == ["delivered"]
    assert [m.path for m in receiver.messages] == ["/bazhou"]


async def test_a_timeline_key_that_holds_another_event_fails_loudly(database_url):
    init_db(database_url)
    recorder, env = Recorder(database_url), ActivityEnvironment()
    state = IncidentState(facts=facts())
    opened = TimelineEntry(event_key="incident-x/opened", seq=1, kind="opened", actor="duty", at=T0)
    note = TimelineEntry(event_key="incident-x/u/add_note-1", seq=2, kind="note", actor="duty", at=T0,
                         payload={"text": "网民关注度上升"})
    env.run(recorder.record_batch, batch(state, opened, note))
    env.run(recorder.record_batch, batch(state, opened, note))  # the same events again: nothing added
    assert count(database_url, TimelineEvent) == 2
    other = TimelineEntry(event_key="incident-x/u/add_note-1", seq=3, kind="note", actor="duty", at=T0,
                          payload={"text": "另一条备注"})
    with pytest.raises(ApplicationError, match="already holds another event"):
        env.run(recorder.record_batch, batch(state, other))
    with session_scope(database_url) as s:
        texts = [e.payload.get("text") for e in s.exec(select(TimelineEvent).order_by(TimelineEvent.seq)).all()]
    assert texts == [None, "网民关注度上升"]  # neither overwritten nor skipped into a gap
