"""The rules of the human actions, on the time-skipping server with stub activities: no SQL, no HTTP.

Each refused action is refused by the update's validator (it never enters history), with a sentence that
says what to do; the state the query returns shows what a person would see on the incident's page.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from desk import clocks as clk
from desk.messages import (
    CLOSED,
    CONFLICT,
    INVALID,
    OPEN,
    Acknowledge,
    ChangeLevel,
    Close,
    IncidentFacts,
    IncidentInput,
    Reassign,
    RecordRelease,
    Reopen,
    Waive,
)
from desk.policy import load_policy
from tests.workflow.stubs import deliver_to_every_channel, record_nothing
from workflows.incident import IncidentWorkflow

H = timedelta(hours=1)


@pytest_asyncio.fixture
async def open_incident(time_skipping_env):
    """Opens incidents on a worker with stub activities; ``await open_incident(level)`` gives the handle."""
    env = time_skipping_env
    task_queue = f"rules-{uuid.uuid4().hex[:8]}"
    handles = []

    async def start(level: str = "III"):
        detected = await env.get_current_time()
        facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000001", title="某小区燃气泄漏引发网络关注",
                              category="accident", level=level, party_code="bazhou", party_name="巴州区人民政府",
                              reporter="duty", detected_at=detected, opened_at=detected)
        handle = await env.client.start_workflow(
            IncidentWorkflow.run, IncidentInput(facts=facts, policy=load_policy("bazhong"), public_url="http://desk.test"),
            id=f"incident-rules-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
        handles.append(handle)
        return handle

    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_to_every_channel, record_nothing]):
        yield start
        for handle in handles:  # an orphaned timer would stall time skipping for the next test
            await handle.terminate("test over")


async def refused(handle, update, command) -> tuple[str, str]:
    """The refusal's kind (INVALID or CONFLICT) and its sentence."""
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle.execute_update(update, command)
    return refusal.value.cause.type, refusal.value.cause.message


def clocks(state) -> dict[str, clk.MilestoneClock]:
    return {c.key: c for c in state.clocks}


async def test_acknowledging_twice_is_refused(open_incident):
    handle = await open_incident()
    state = await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou", note="收到"))
    assert clocks(state)["acknowledge"].state == clk.MET
    assert await refused(handle, IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou")) == (
        CONFLICT, "该事件已签收，无需重复签收。")
    assert clocks(await handle.query(IncidentWorkflow.current_state))["acknowledge"].state == clk.MET


async def test_a_follow_up_release_before_the_first_release_is_refused(open_incident):
    handle = await open_incident()
    kind, message = await refused(handle, IncidentWorkflow.record_release,
                                  RecordRelease(actor="bazhou", kind="update", summary="处置进展"))
    assert kind == CONFLICT and "请先记录“发布权威信息”" in message
    state = await handle.query(IncidentWorkflow.current_state)
    assert clocks(state)["first_release"].state == clk.PENDING and clocks(state)["acknowledge"].state == clk.PENDING


async def test_a_release_dated_before_the_detection_is_refused(open_incident):
    handle = await open_incident()
    detected = (await handle.query(IncidentWorkflow.current_state)).facts.detected_at
    kind, message = await refused(handle, IncidentWorkflow.record_release,
                                  RecordRelease(actor="bazhou", released_at=detected - H, channel="政府网站"))
    assert (kind, message) == (INVALID, "发布时间早于舆情发现时间，请核对后重新填写。")
    assert clocks(await handle.query(IncidentWorkflow.current_state))["first_release"].state == clk.PENDING


async def test_closing_with_an_open_milestone_is_refused(open_incident):
    handle = await open_incident()
    await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou"))
    kind, message = await refused(handle, IncidentWorkflow.close, Close(actor="super", reason="处置完毕"))
    state = await handle.query(IncidentWorkflow.current_state)
    assert kind == CONFLICT and message.startswith("不能结案：") and clocks(state)["first_release"].label in message
    assert "豁免" in message and state.status == OPEN


async def test_waiving_the_open_milestone_then_closing_is_allowed(open_incident):
    handle = await open_incident()
    await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou"))
    state = await handle.execute_update(IncidentWorkflow.waive,
                                        Waive(actor="super", milestone="first_release", reason="已由上级统一发布"))
    assert clocks(state)["first_release"].state == clk.WAIVED
    assert clocks(state)["first_release"].waived_reason == "已由上级统一发布"
    state = await handle.execute_update(IncidentWorkflow.close, Close(actor="super", reason="处置完毕"))
    assert state.status == CLOSED and state.closed_at is not None


async def test_raising_the_level_to_i_adds_the_press_conference_clock(open_incident):
    handle = await open_incident(level="III")
    before = await handle.query(IncidentWorkflow.current_state)
    assert "press_conference" not in clocks(before)
    state = await handle.execute_update(IncidentWorkflow.change_level,
                                        ChangeLevel(actor="super", level="I", reason="多家媒体跟进，升级处置"))
    press = clocks(state)["press_conference"]
    assert state.facts.level == "I" and press.state == clk.PENDING
    assert press.due_at == before.facts.detected_at + 24 * H  # counted from detection, not from the change
    assert clocks(state)["first_release"].due_at == clocks(before)["first_release"].due_at


async def test_reassigning_keeps_the_clocks(open_incident):
    handle = await open_incident()
    before = await handle.query(IncidentWorkflow.current_state)
    state = await handle.execute_update(IncidentWorkflow.reassign, Reassign(
        actor="super", party_code="enyang", party_name="恩阳区人民政府", reason="属地调整"))
    assert (state.facts.party_code, state.facts.party_name) == ("enyang", "恩阳区人民政府")
    assert [(c.key, c.due_at, c.state) for c in state.clocks] == [(c.key, c.due_at, c.state) for c in before.clocks]
    assert await refused(handle, IncidentWorkflow.reassign, Reassign(
        actor="super", party_code="enyang", party_name="恩阳区人民政府", reason="重复")) == (CONFLICT, "该事件已由此单位负责。")


async def test_reopening_is_only_for_a_closed_incident(open_incident):
    handle = await open_incident()
    assert await refused(handle, IncidentWorkflow.reopen, Reopen(actor="super", reason="出现新情况")) == (
        CONFLICT, "事件未结案，无需重新打开。")
    await handle.execute_update(IncidentWorkflow.acknowledge, Acknowledge(actor="bazhou"))
    await handle.execute_update(IncidentWorkflow.record_release, RecordRelease(actor="bazhou", channel="政府网站"))
    await handle.execute_update(IncidentWorkflow.close, Close(actor="super", reason="处置完毕"))
    state = await handle.execute_update(IncidentWorkflow.reopen, Reopen(actor="super", reason="出现新情况"))
    assert state.status == OPEN and state.closed_at is None
    assert (await handle.query(IncidentWorkflow.current_state)).status == OPEN


async def test_an_unknown_release_kind_is_refused_with_its_code_not_a_crash(open_incident):
    handle = await open_incident()
    kind, sentence = await refused(handle, IncidentWorkflow.record_release, RecordRelease(actor="bazhou", kind="tweet"))
    assert (kind, sentence) == (INVALID, "未知的发布类型：tweet")
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle.execute_update(IncidentWorkflow.record_release, RecordRelease(actor="bazhou", kind="tweet"))
    assert refusal.value.cause.details[0]["params"] == {"kind": "tweet"}
