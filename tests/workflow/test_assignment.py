"""【新交办】: the party hears of an incident the moment it is given to it (opened, or reassigned to it), as a
message of the ladder (logged, deduplicated, owed to a channel that fails), not first at the 50 % reminder."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from desk.messages import ChannelResult, Deliver, Delivered, IncidentFacts, IncidentInput, Reassign
from desk.policy import load_policy
from tests.helpers import eventually
from tests.workflow.stubs import record_nothing
from workflows.incident import IncidentWorkflow

SENT: list[Deliver] = []
REFUSING: set[str] = set()  # tags whose channel answers 500 for now


@activity.defn(name="deliver")
async def deliver_and_note(d: Deliver) -> Delivered:
    SENT.append(d)
    return Delivered(matched=len(d.tags), results=[
        ChannelResult(channel_id=t, status="failed" if t in REFUSING else "delivered", error="HTTP 500" if t in REFUSING else "")
        for t in d.tags])


async def _start(env, policy, task_queue: str):
    now = await env.get_current_time()
    facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000007", title="某景区游客滞留引发关注",
                          category="public_opinion", level="III", party_code="bazhou", party_name="巴州区人民政府",
                          reporter="duty", detected_at=now, opened_at=now)
    return await env.client.start_workflow(
        IncidentWorkflow.run, IncidentInput(facts=facts, policy=policy, public_url="http://desk.test"),
        id=f"incident-assign-{uuid.uuid4().hex[:8]}", task_queue=task_queue)


def assigned() -> list[Deliver]:
    return [d for d in SENT if d.kind == "assigned"]


async def test_the_party_is_told_at_opening_and_the_new_party_on_reassignment(time_skipping_env):
    SENT.clear()
    env, task_queue = time_skipping_env, f"assign-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_and_note, record_nothing]):
        handle = await _start(env, load_policy("bazhong"), task_queue)
        await eventually(lambda: assigned(), timeout=10)
        first = assigned()[0]
        assert first.tags == ["bazhou"] and first.party_name == "巴州区人民政府"
        assert "责任单位签收" in first.detail and "发布权威信息" in first.detail  # the deadlines, in Beijing time
        assert not [d for d in SENT if d.kind == "reminder"]  # before any reminder
        await handle.execute_update(IncidentWorkflow.reassign, Reassign(actor="super", party_code="enyang",
                                                                       party_name="恩阳区人民政府", reason="属地调整"))
        await eventually(lambda: len(assigned()) == 2, timeout=10)
        second = assigned()[1]
        assert second.tags == ["enyang"] and second.party_name == "恩阳区人民政府"
        assert second.dedupe_key != first.dedupe_key  # a message of its own, never a repeat of the first
        # Since "local-first-try" the opening one is tried inside the task that starts the clocks (a marker in
        # the history, not an activity and a second workflow task: what the server writes per new incident,
        # `python -m bench intake`); the reassignment's, sent while people act on the incident, is an activity.
        events = (await handle.fetch_history()).events
        first_timer = next(i for i, e in enumerate(events) if e.HasField("timer_started_event_attributes"))
        scheduled = [(i, e.activity_task_scheduled_event_attributes.activity_type.name) for i, e in enumerate(events)
                     if e.HasField("activity_task_scheduled_event_attributes")]
        assert [name for _, name in scheduled] == ["deliver"] and scheduled[0][0] > first_timer, scheduled
        await env.sleep(timedelta(hours=2))
        assert len(assigned()) == 2  # each sent once
        await handle.terminate("test over")


async def test_a_failing_channel_is_owed_the_message_until_the_incident_leaves_that_party(time_skipping_env):
    SENT.clear()
    REFUSING.add("bazhou")
    env, task_queue = time_skipping_env, f"assign-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                          activities=[deliver_and_note, record_nothing]):
            handle = await _start(env, load_policy("bazhong"), task_queue)
            await eventually(lambda: assigned(), timeout=10)
            await env.sleep(timedelta(minutes=3))
            tries = len(assigned())
            assert tries >= 3 and all(d.tags == ["bazhou"] for d in assigned())  # retried with backoff
            state = await handle.query(IncidentWorkflow.current_state)
            assert [o.kind for o in state.owed] == ["assigned"]
            await handle.execute_update(IncidentWorkflow.reassign, Reassign(
                actor="super", party_code="enyang", party_name="恩阳区人民政府", reason="属地调整"))
            await env.sleep(timedelta(minutes=30))
            state = await handle.query(IncidentWorkflow.current_state)
            assert state.owed == []  # bazhou no longer owes a notice of an incident it no longer has
            assert [d.tags for d in assigned()[tries:]] == [["enyang"]]
            await handle.terminate("test over")
    finally:
        REFUSING.clear()


async def test_a_policy_without_on_assign_sends_nothing_at_opening(time_skipping_env):
    SENT.clear()
    env, task_queue = time_skipping_env, f"assign-{uuid.uuid4().hex[:8]}"
    policy = load_policy("bazhong")
    policy = replace(policy, escalation=replace(policy.escalation, on_assign=[]))
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_and_note, record_nothing]):
        handle = await _start(env, policy, task_queue)
        await env.sleep(timedelta(minutes=10))
        assert assigned() == []
        await handle.terminate("test over")


async def test_a_supervisors_urge_reaches_the_party_and_its_leadership_not_the_supervisor(time_skipping_env):
    from desk.messages import Urge

    SENT.clear()
    env, task_queue = time_skipping_env, f"assign-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_and_note, record_nothing]):
        handle = await _start(env, load_policy("bazhong"), task_queue)
        await handle.execute_update(IncidentWorkflow.urge, Urge(actor="super", text="请于今日18时前发布权威信息"))
        await eventually(lambda: [d for d in SENT if d.kind == "urge"], timeout=10)
        urge = next(d for d in SENT if d.kind == "urge")
        assert urge.tags == ["bazhou", "bazhou-leaders"] and urge.detail == "请于今日18时前发布权威信息"
        await handle.execute_update(IncidentWorkflow.urge, Urge(actor="super", text="再次督办"))
        await eventually(lambda: len([d for d in SENT if d.kind == "urge"]) == 2, timeout=10)
        keys = [d.dedupe_key for d in SENT if d.kind == "urge"]
        assert len(set(keys)) == 2  # each urge a message of its own
        with pytest.raises(WorkflowUpdateFailedError):  # nothing to say: refused, nothing sent
            await handle.execute_update(IncidentWorkflow.urge, Urge(actor="super", text="  "))
        await handle.terminate("test over")
