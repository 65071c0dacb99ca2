"""The real hour-scale ladders of the Bazhong policy, on Temporal's time-skipping test server.

The test server skips ahead whenever the workflow only waits on timers, so 49 hours pass in seconds;
activities (SQL writes, apprise to the local receiver) run for real, or stubs (tests/workflow/stubs.py)
where noted. The rules of the human actions are in tests/workflow/test_rules.py.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from sqlmodel import select
from temporalio import activity
from temporalio.worker import Worker

from desk.db import init_db, session_scope
from desk.messages import Deliver, Delivered, IncidentFacts, IncidentInput, IncidentState, RecordBatch, TimelineEntry
from desk.models import Incident, TimelineEvent
from desk.policy import load_policy
from desk.temporal import run_chain
from tests.helpers import make_settings
from tests.workflow.stubs import deliver_to_every_channel, overdue_for, record_nothing
from worker import build_worker
from workflows.incident import SHORT_RUN, IncidentWorkflow

H = timedelta(hours=1)


def bazhong_without_acknowledgement():
    """The bazhong release and press-conference clocks alone, so the counts below stay readable."""
    policy = load_policy("bazhong")
    return policy.__class__(**{**policy.__dict__, "milestones": [m for m in policy.milestones if m.key != "acknowledge"]})


async def run_for(env, settings, database_url, policy, span: timedelta, **fact_fields) -> IncidentState:
    """Start one incident workflow on the time-skipping server, let ``span`` pass, return its state."""
    init_db(database_url)
    task_queue = f"long-{uuid.uuid4().hex[:8]}"
    detected = await env.get_current_time()
    fields = dict(incident_id=1, human_id="YQ-2026-000001", title="山体滑坡致道路中断", category="natural_disaster",
                  level="I", party_code="bazhou", party_name="巴州区人民政府", reporter="duty")
    fields.update(fact_fields)
    facts = IncidentFacts(detected_at=detected, opened_at=detected, **fields)
    async with build_worker(env.client, settings, task_queue=task_queue, database_url=database_url):
        handle = await env.client.start_workflow(
            IncidentWorkflow.run, IncidentInput(facts=facts, policy=policy, public_url="http://desk.test"),
            id=f"incident-long-{task_queue}", task_queue=task_queue)
        await env.sleep(span)
        state = await handle.query(IncidentWorkflow.current_state)
        await handle.terminate("test over")  # an orphaned timer would stall time skipping for the next test
    return state


async def test_extraordinary_incident_ladders_over_49_hours(time_skipping_env, tmp_path, notify_config,
                                                            database_url, receiver):
    state = await run_for(time_skipping_env, make_settings(tmp_path, notify_config), database_url,
                          bazhong_without_acknowledgement(), 49 * H)
    detected = state.facts.detected_at

    by_key = {c.key: c for c in state.clocks}
    assert by_key["press_conference"].due_at == detected + 24 * H
    assert by_key["first_release"].due_at == detected + 48 * H
    assert by_key["press_conference"].state == by_key["first_release"].state == "overdue"

    with session_scope(database_url) as s:
        events = s.exec(select(TimelineEvent).order_by(TimelineEvent.seq)).all()
        incident = s.exec(select(Incident)).one()  # the workflow rebuilt the read model from its facts
    assert incident.human_id == "YQ-2026-000001" and incident.overdue
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.kind for e in events][:2] == ["opened", "assignment_notified"]  # 【新交办】 first, at once
    sent = [(e.payload["milestone"], e.kind, e.at - detected) for e in events[2:]]
    press = [(k, at) for m, k, at in sent if m == "press_conference"]
    release = [(k, at) for m, k, at in sent if m == "first_release"]
    hours = lambda pairs: [(k, round(at / H, 2)) for k, at in pairs]  # noqa: E731
    assert hours(press) == [("reminder_sent", 12), ("reminder_sent", 18), ("reminder_sent", 23), ("escalated", 24)] + [
        ("escalation_repeated", h) for h in range(26, 49, 2)]
    assert hours(release) == [("reminder_sent", 24), ("reminder_sent", 36), ("reminder_sent", 47), ("escalated", 48)]

    seen = Counter(m.path.strip("/") for m in receiver.messages)
    repeats = 12  # 26 h … 48 h, every 2 h
    assert seen["bazhou"] == 1 + 3 + 1 + repeats + 3 + 1  # 【新交办】, then the two ladders
    assert seen["bazhou-leaders"] == seen["supervisor"] == 1 + repeats + 1
    assert not seen["enyang"]


async def test_national_policy_releases_within_5_hours_for_grave_incidents(time_skipping_env, tmp_path,
                                                                         notify_config, database_url, receiver):
    state = await run_for(time_skipping_env, make_settings(tmp_path, notify_config), database_url,
                          load_policy("national-2016"), 5 * H + timedelta(minutes=1), incident_id=7,
                          human_id="YQ-2026-000007", title="某化工厂异味", category="accident", level="II",
                          party_code="dept-sthjj", party_name="市生态环境局")
    detected = state.facts.detected_at
    release = next(c for c in state.clocks if c.key == "first_release")
    assert release.due_at == detected + 5 * H and release.state == "overdue"
    breaches = [m for m in receiver.tagged("supervisor") if "发布权威信息" in m.body]
    assert len(breaches) == 1 and "重大(II级)" in breaches[0].body



async def test_a_channel_that_keeps_failing_is_owed_the_message_and_the_supervisor_is_told(
        time_skipping_env, tmp_path, notify_config, database_url, receiver):
    from desk.models import NotificationAttempt

    env = time_skipping_env
    init_db(database_url)
    task_queue = f"long-{uuid.uuid4().hex[:8]}"
    detected = await env.get_current_time()
    facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000001", title="网传学校食物中毒", category="public_health",
                          level="I", party_code="bazhou", party_name="巴州区人民政府", reporter="duty",
                          detected_at=detected, opened_at=detected)
    async with build_worker(env.client, make_settings(tmp_path, notify_config), task_queue=task_queue,
                            database_url=database_url):
        handle = await env.client.start_workflow(
            IncidentWorkflow.run, IncidentInput(facts=facts, policy=bazhong_without_acknowledgement(),
                                                public_url="http://desk.test"),
            id=f"incident-long-{task_queue}", task_queue=task_queue)
        await env.sleep(timedelta(minutes=1))  # the 【新交办】 reached the county
        receiver.fail_tags = {"bazhou"}  # then its WeCom group goes down; the supervisor's channel works
        # the first reminder (press conference at 50 %, 12 h) fails, and is tried again 30 s, 1 min, 2 min and
        # 4 min apart; after 5 minutes of failing the supervisor is told, in addition
        await env.sleep(12 * H + timedelta(minutes=10))
        with session_scope(database_url) as s:
            failed = [r for r in s.exec(select(NotificationAttempt).order_by(NotificationAttempt.id)).all()
                      if r.status == "failed"]
            kinds = [e.kind for e in s.exec(select(TimelineEvent).order_by(TimelineEvent.seq)).all()]
        owed = (await handle.query(IncidentWorkflow.current_state)).owed
        receiver.fail_tags = set()  # the group is back: the owed reminder goes out at the next try
        await env.sleep(timedelta(minutes=15))
        with session_scope(database_url) as s:
            later = [e.kind for e in s.exec(select(TimelineEvent).order_by(TimelineEvent.seq)).all()]
        await handle.terminate("test over")

    assert len(failed) == 5 and [r.attempt for r in failed] == [1, 2, 3, 4, 5]  # every attempt logged
    assert all("bazhou" in r.channel and r.error for r in failed)
    assert [(o.rung_key, o.tries, o.alerted) for o in owed] == [("press_conference/g1/reminder50%", 5, True)]
    alert = receiver.tagged("supervisor")
    assert len(alert) == 1 and alert[0].title.startswith("【通知渠道故障】")
    assert "举行新闻发布会" in alert[0].body
    assert kinds == ["opened", "assignment_notified", "reminder_sent", "channel_failure_escalated"]
    reminders = [m for m in receiver.tagged("bazhou") if m.title.startswith("【时限提醒】")]
    assert len(reminders) == 1 and "举行新闻发布会" in reminders[0].body  # owed, delivered once, not lost
    assert later == kinds + ["delivery_recovered"]


# --- an incident overdue for months, with stub activities (the rules alone, no SQL or HTTP) ----------------


async def test_an_incident_overdue_for_six_months_continues_as_new_with_a_bounded_state(time_skipping_env):
    env = time_skipping_env
    policy = load_policy("bazhong")
    policy = policy.__class__(**{**policy.__dict__, "milestones": [m for m in policy.milestones
                                                                   if m.key == "first_release"]})
    task_queue = f"long-{uuid.uuid4().hex[:8]}"
    inp = overdue_for(policy, await env.get_current_time(), months=6)
    before = inp.state.clocks[0].repeats_sent
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_to_every_channel, record_nothing]):
        handle = await env.client.start_workflow(IncidentWorkflow.run, inp, id=f"incident-overdue-{task_queue}",
                                                 task_queue=task_queue)
        await env.sleep(timedelta(days=20, minutes=1))  # 240 more repeats, every 2 h
        state = await handle.query(IncidentWorkflow.current_state)
        runs = await run_chain(env.client, handle.id)  # the chain of runs, newest first
        history = runs[0]
        await handle.terminate("test over")
    [release] = state.clocks
    assert release.repeats_sent - before == 240  # every repeat, none twice, none skipped
    assert release.sent_rungs == inp.state.clocks[0].sent_rungs  # repeats add no key, however long it lasts
    assert state.event_seq == inp.state.event_seq + 240 and not state.outbox
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "a run this long continues as new"
    # every run a worker may replay to rebuild the incident stays short (one repeat is about 12 events)
    assert max(len(run.events) for run in runs) <= SHORT_RUN + 20, [len(run.events) for run in runs]
    # ...and no run records a patch marker or the SDK's TemporalChangeVersion upsert (each is an event the server
    # writes and keeps), but the first: its input, like a run started before the patch level, carries none, and it
    # records one marker for every patch, not one each. The runs it continued into carry the level.
    markers = [sum(e.marker_recorded_event_attributes.marker_name == "core_patch" for e in run.events) for run in runs]
    upserts = [sum(e.HasField("upsert_workflow_search_attributes_event_attributes") for e in run.events) for run in runs]
    assert markers == upserts == [0] * (len(runs) - 1) + [1], (markers, upserts)


async def test_an_hour_without_the_database_keeps_the_clocks_and_a_short_history(time_skipping_env):
    """The record activity fails for a whole hour (the database is away): reminders and the breach still go
    out on time, the history stays short, and once it is back the timeline is written once, in order."""
    env = time_skipping_env
    start = await env.get_current_time()
    written: list[TimelineEntry] = []
    sent: list[tuple[str, object]] = []

    @activity.defn(name="record_batch")
    async def record_after_an_hour(b: RecordBatch) -> None:
        if activity.info().current_attempt_scheduled_time < start + H:
            raise RuntimeError("database is away")
        written.extend(e for e in b.entries if e.event_key not in {w.event_key for w in written})

    @activity.defn(name="deliver")
    async def deliver_now(d: Deliver) -> Delivered:
        # the server's (skipped) time: a first try runs as a local activity, whose info holds the worker's clock
        sent.append((d.dedupe_key.split("/", 1)[1], await env.get_current_time() - start))
        return await deliver_to_every_channel(d)

    policy = load_policy("bazhong")  # acknowledge within 1 h: reminders at 30 and 45 min, breach at 60
    task_queue = f"long-{uuid.uuid4().hex[:8]}"
    facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000001", title="数据库停机一小时", category="accident",
                          level="IV", party_code="bazhou", party_name="巴州区人民政府", reporter="duty",
                          detected_at=start, opened_at=start)
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_now, record_after_an_hour]):
        handle = await env.client.start_workflow(
            IncidentWorkflow.run, IncidentInput(facts=facts, policy=policy, public_url="http://desk.test"),
            id=f"incident-dbdown-{task_queue}", task_queue=task_queue)
        await env.sleep(H - timedelta(minutes=1))
        during = await env.client.get_workflow_handle(handle.id).fetch_history()
        waiting = await handle.query(IncidentWorkflow.current_state)
        await env.sleep(timedelta(minutes=3))
        await handle.terminate("test over")
    print(f"\nFAULT database away 1 h (time-skipping): history {len(during.events)} events at 59 min, "
          f"{len(waiting.outbox)} events waiting in the outbox")
    on_time = [(key, round(t / timedelta(minutes=1))) for key, t in sent if t < H]  # minutes after opening
    assert on_time == [("assigned/1/bazhou", 0), ("acknowledge/g1/reminder50%", 30), ("acknowledge/g1/reminder75%", 45)]
    assert [e.kind for e in waiting.outbox] == ["opened", "assignment_notified", "reminder_sent", "reminder_sent"]
    assert len(during.events) < 60  # retries of the write are not history: an hour costs what its rungs cost
    assert [e.seq for e in written] == list(range(1, len(written) + 1))  # once each, in order
    assert [e.kind for e in written][:5] == ["opened", "assignment_notified", "reminder_sent", "reminder_sent", "escalated"]
