"""牵头/配合 and 督办事项 on the time-skipping server: a supporting party's own acknowledgement clock and a task's
clock run the same ladder as the lead's milestones, to their own party's tags; bad input is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from desk import clocks as clk
from desk.messages import (
    Acknowledge,
    AddSupport,
    AssignTask,
    ChannelResult,
    Close,
    CompleteTask,
    Deliver,
    Delivered,
    IncidentFacts,
    IncidentInput,
    Reassign,
    SupportingParty,
)
from desk.policy import load_policy
from tests.helpers import eventually
from tests.workflow.stubs import record_nothing
from workflows.incident import IncidentWorkflow

H = timedelta(hours=1)
SENT: list[Deliver] = []
SHA = "ab" * 32


@activity.defn(name="deliver")
async def deliver_and_note(d: Deliver) -> Delivered:
    SENT.append(d)
    return Delivered(matched=len(d.tags), results=[ChannelResult(channel_id=t, status="delivered") for t in d.tags])


def rung(suffix: str) -> list[Deliver]:
    return [d for d in SENT if d.dedupe_key.endswith(suffix)]


async def _start(env, task_queue: str, supporting: list[SupportingParty]):
    now = await env.get_current_time()
    facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000009", title="跨区河道污染引发关注", category="accident",
                          level="III", party_code="bazhou", party_name="巴州区人民政府", reporter="duty",
                          detected_at=now, opened_at=now)
    return await env.client.start_workflow(
        IncidentWorkflow.run, IncidentInput(facts=facts, policy=load_policy("bazhong"), public_url="http://desk.test",
                                            supporting=supporting),
        id=f"incident-shared-{uuid.uuid4().hex[:8]}", task_queue=task_queue)


def clock(state, key: str) -> clk.MilestoneClock:
    return next(c for c in state.clocks if c.key == key)


async def test_a_supporting_party_has_its_own_acknowledgement_clock_and_ladder(time_skipping_env):
    SENT.clear()
    env, task_queue = time_skipping_env, f"shared-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_and_note, record_nothing]):
        now = await env.get_current_time()
        handle = await _start(env, task_queue, [SupportingParty(n=1, party_code="dept-sthjj", party_name="市生态环境局",
                                                               added_at=now, added_by="duty")])
        await eventually(lambda: rung("support-1/assigned"), timeout=10)
        assert rung("support-1/assigned")[0].tags == ["dept-sthjj"]  # 【新交办】 to the supporting party too
        await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="lead", party_code="bazhou"))
        await env.sleep(H + timedelta(minutes=5))  # past the 1 h acknowledgement deadline
        await eventually(lambda: rung("support-1/g1/breach"), timeout=10)
        breach = rung("support-1/g1/breach")[0]
        assert breach.tags == ["dept-sthjj", "dept-sthjj-leaders", "supervisor"]  # its own tags, not the lead's
        assert breach.party_name == "市生态环境局"
        assert not rung("acknowledge/g1/breach")  # the lead acknowledged in time
        # A reassignment of the lead keeps every clock; the supporting party acknowledges late, on its own clock.
        await handle.execute_update(IncidentWorkflow.reassign, Reassign(actor="super", party_code="enyang",
                                                                       party_name="恩阳区人民政府", reason="属地调整"))
        state = await handle.execute_update(IncidentWorkflow.acknowledge,
                                            Acknowledge(actor="liaison", party_code="dept-sthjj"))
        assert clock(state, "support-1").state == clk.MET_LATE
        assert clock(state, "acknowledge").state == clk.MET
        # Adding the lead as a supporting party, or the same party twice, is refused: nothing changes.
        for code, why in (("enyang", "support.is_lead"), ("dept-sthjj", "support.already")):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(IncidentWorkflow.add_support,
                                            AddSupport(actor="super", party_code=code, party_name="x"))
            assert refused.value.cause.details[0]["code"] == why
        state = await handle.query(IncidentWorkflow.current_state)
        assert [s.party_code for s in state.supporting] == ["dept-sthjj"]
        await handle.terminate("test over")


async def test_a_task_runs_its_own_clock_escalates_when_overdue_and_is_done_only_with_the_file(time_skipping_env):
    SENT.clear()
    env, task_queue = time_skipping_env, f"shared-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_and_note, record_nothing]):
        handle = await _start(env, task_queue, [])
        now = await env.get_current_time()
        await handle.execute_update(IncidentWorkflow.add_support,
                                    AddSupport(actor="super", party_code="dept-wjw", party_name="市卫生健康委员会"))
        with pytest.raises(WorkflowUpdateFailedError) as refused:  # a task due in the past
            await handle.execute_update(IncidentWorkflow.assign_task, AssignTask(
                actor="super", party_code="dept-wjw", party_name="市卫生健康委员会", text="核实", due_at=now - H))
        assert refused.value.cause.details[0]["code"] == "task.due_in_past"
        with pytest.raises(WorkflowUpdateFailedError) as refused:  # a supporting party cannot assign tasks
            await handle.execute_update(IncidentWorkflow.assign_task, AssignTask(
                actor="wjw", party_code="bazhou", party_name="巴州区人民政府", text="核实", due_at=now + H,
                by_party="dept-wjw"))
        assert refused.value.cause.details[0]["code"] == "task.not_lead"
        state = await handle.execute_update(IncidentWorkflow.assign_task, AssignTask(
            actor="lead", party_code="dept-wjw", party_name="市卫生健康委员会", text="提供医院收治人数及核实情况",
            due_at=now + 2 * H, needs_attachment=True, by_party="bazhou"))
        assert clock(state, "task-1").party == "dept-wjw" and state.tasks[0].needs_attachment
        await eventually(lambda: rung("task-1/assigned"), timeout=10)
        assert "提供医院收治人数" in rung("task-1/assigned")[0].detail
        await env.sleep(2 * H + timedelta(minutes=5))
        await eventually(lambda: rung("task-1/g1/breach"), timeout=10)
        assert rung("task-1/g1/breach")[0].tags == ["dept-wjw", "dept-wjw-leaders", "supervisor"]
        assert rung("task-1/g1/reminder50%")[0].tags == ["dept-wjw"]  # reminders on the task's own window
        # An open task blocks closing, like a due milestone.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(IncidentWorkflow.close, Close(actor="super"))
        assert "task-1" in refused.value.cause.details[0]["params"]["milestones"]
        for cmd, why in ((CompleteTask(actor="wjw", task=1, note="已核实", by_party="dept-wjw"), "task.file_required"),
                         (CompleteTask(actor="x", task=1, attachment=SHA, by_party="bazhou"), "task.not_yours"),
                         (CompleteTask(actor="x", task=2, note="?"), "task.unknown")):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(IncidentWorkflow.complete_task, cmd)
            assert refused.value.cause.details[0]["code"] == why
        state = await handle.execute_update(IncidentWorkflow.complete_task, CompleteTask(
            actor="wjw", task=1, note="已核实，见附件", attachment=SHA, by_party="dept-wjw"))
        assert clock(state, "task-1").state == clk.MET_LATE and state.tasks[0].attachment == SHA
        sent = len(rung("task-1/g1/repeat-1")) + len(rung("task-1/g1/repeat-2"))
        await env.sleep(3 * H)
        assert len(rung("task-1/g1/repeat-1")) + len(rung("task-1/g1/repeat-2")) == sent  # the ladder stopped
        await handle.terminate("test over")
