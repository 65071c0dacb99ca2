"""交接班: a handover the incoming officer does not confirm within the policy's time is escalated to the supervisor,
once; one confirmed in time is not; only the incoming officer may confirm."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from desk.messages import ChannelResult, ConfirmHandover, Deliver, Delivered, HandoverInput, HandoverRecord
from desk.policy import load_policy
from tests.helpers import eventually
from workflows.handover import HandoverWorkflow

SENT: list[Deliver] = []
RECORDED: list[HandoverRecord] = []


@activity.defn(name="deliver")
async def deliver_and_note(d: Deliver) -> Delivered:
    SENT.append(d)
    return Delivered(matched=len(d.tags), results=[ChannelResult(channel_id=t, status="delivered") for t in d.tags])


@activity.defn(name="record_handover")
async def note_record(r: HandoverRecord) -> None:
    RECORDED.append(r)


async def _hand_over(env, task_queue: str):
    rule = load_policy("bazhong").handover  # 30 minutes, to the supervisor
    inp = HandoverInput(handover_id=7, outgoing="duty", incoming="night", handed_over_at=await env.get_current_time(),
                        confirm_within_seconds=rule.confirm_within_seconds, escalate_to=rule.escalate_to,
                        outgoing_name="白班值班员", incoming_name="夜班值班员", link="http://desk.test/handover/7")
    return await env.client.start_workflow(HandoverWorkflow.run, inp, id=f"handover-{uuid.uuid4().hex[:8]}",
                                           task_queue=task_queue)


def worker_for(env) -> tuple[str, Worker]:
    SENT.clear()
    RECORDED.clear()
    task_queue = f"handover-{uuid.uuid4().hex[:8]}"
    return task_queue, Worker(env.client, task_queue=task_queue, workflows=[HandoverWorkflow],
                              activities=[deliver_and_note, note_record])


async def test_a_handover_not_confirmed_in_30_minutes_goes_to_the_supervisor_once(time_skipping_env):
    env = time_skipping_env
    task_queue, worker = worker_for(env)
    async with worker:
        handle = await _hand_over(env, task_queue)
        await env.sleep(timedelta(minutes=29))
        assert SENT == []
        await env.sleep(timedelta(minutes=2))
        await eventually(lambda: SENT, timeout=10)
        assert [(d.kind, d.tags) for d in SENT] == [("handover_unconfirmed", ["supervisor"])]
        assert "白班值班员 → 夜班值班员" in SENT[0].title and SENT[0].link.endswith("/handover/7")
        await eventually(lambda: any(r.escalated_at for r in RECORDED), timeout=10)
        await env.sleep(timedelta(hours=3))
        assert len(SENT) == 1  # told once
        # A late confirmation still counts, and is recorded.
        assert await handle.execute_update(HandoverWorkflow.confirm, ConfirmHandover(actor="night")) == "escalated"
        assert await handle.result() == "night"
        assert [r.confirmed_by for r in RECORDED if r.confirmed_at] == ["night"]


async def test_a_handover_confirmed_in_time_is_not_escalated_and_only_the_incoming_officer_confirms(
        time_skipping_env):
    env = time_skipping_env
    task_queue, worker = worker_for(env)
    async with worker:
        handle = await _hand_over(env, task_queue)
        await env.sleep(timedelta(minutes=10))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(HandoverWorkflow.confirm, ConfirmHandover(actor="someone-else"))
        assert "只有接班人本人" in str(refused.value.cause)
        assert await handle.execute_update(HandoverWorkflow.confirm, ConfirmHandover(actor="night")) == "on_time"
        assert await handle.result() == "night"
        await env.sleep(timedelta(hours=1))
        assert SENT == []
