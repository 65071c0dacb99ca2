"""Record workflow histories for the replay test: `python -m tests.histories.record [SUFFIX [SCENARIO]]`.

Runs real scenarios (every human action, reminders, breach, repeats, close, reopen; supporting parties and
tasks with their own ladders) on a fresh dev server and saves each history as JSON beside this file.
Re-record only on purpose: a history recorded from old code is what proves new code can still replay live
workflows.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from desk.db import session_scope
from desk.models import Handover
from desk.schedules import ensure_report_schedules, schedule_id
from desk.temporal import SEARCH_ATTRIBUTES, run_chain
from tests.helpers import BIN, FAST, HISTORY_DIR, Receiver, eventually, make_settings, png, start_desk, workflow_id


async def scenario_full_life(desk) -> str:
    iid = (await desk.open(level="III", party="bazhou")).json()["id"]
    await asyncio.sleep(11)  # reminder, breach and a repeat of the acknowledgement ladder
    steps = [
        ("acknowledge", "bazhou", {"note": "收到"}),
        ("notes", "duty", {"text": "网民关注度上升"}),
        ("reassign", "super", {"party": "enyang", "reason": "属地调整"}),
        ("level", "super", {"level": "I", "reason": "升级"}),
        ("releases", "enyang", {"channel": "政府网站", "url": "https://example.gov.cn/1"}),
        ("press-conferences", "enyang", {"channel": "新闻发布厅"}),
        ("updates", "enyang", {"summary": "处置进展"}),
        ("close", "super", {"reason": "处置完毕"}),
        ("reopen", "super", {"reason": "出现新情况"}),
        ("waive", "super", {"milestone": "follow_up", "reason": "无新进展"}),
        ("close", "super", {"reason": "再次结案"}),
    ]
    for path, who, body in steps:
        r = await desk.http.post(f"/api/incidents/{iid}/{path}", json=body, headers=desk.auth(who))
        assert r.status_code == 200, (path, r.text)
    return iid


async def scenario_refused_actions(desk) -> str:
    iid = (await desk.open(level="IV", party="bazhou", drill=True)).json()["id"]
    for path, who, body in [("close", "super", {}), ("updates", "bazhou", {}), ("reopen", "super", {"reason": "x"})]:
        r = await desk.http.post(f"/api/incidents/{iid}/{path}", json=body, headers=desk.auth(who))
        assert r.status_code == 409, (path, r.text)
    await desk.http.post(f"/api/incidents/{iid}/acknowledge", json={}, headers=desk.auth("bazhou"))
    return iid


async def scenario_shared_duties(desk) -> str:
    """牵头/配合 and 督办事项: a supporting party named at opening, one added later, tasks done, waived."""
    iid = (await desk.open(level="III", party="bazhou", supporting=["enyang"])).json()["id"]

    def due(seconds: float) -> str:
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()

    r = await desk.http.post(f"/api/incidents/{iid}/tasks", headers=desk.auth("bazhou"), json={
        "party": "enyang", "text": "核实现场情况", "due_at": due(6), "needs_attachment": True})
    assert r.status_code == 200, r.text
    await asyncio.sleep(11)  # both parties' acknowledgement ladders and the task's: reminders, breach, repeats
    picture = png(color="#336699")  # the task's result: one of this incident's files
    r = await desk.http.post(f"/api/incidents/{iid}/attachments", headers=desk.auth("enyang"),
                             files={"files": ("现场.png", picture, "image/png")})
    assert r.status_code in (200, 201, 202), r.text
    steps = [
        ("acknowledge", "bazhou", {"note": "收到"}),
        ("acknowledge", "enyang", {"note": "配合单位收到"}),
        ("supporting-parties", "super", {"party": "dept-wjw"}),
        ("task-results", "enyang", {"task": 1, "note": "已核实", "attachment": hashlib.sha256(picture).hexdigest()}),
        ("tasks", "super", {"party": "dept-wjw", "text": "提供收治数据", "due_at": due(3600)}),
        ("waive", "super", {"milestone": "task-2", "reason": "数据已由上级提供"}),
        ("waive", "super", {"milestone": "support-2", "reason": "无需签收"}),
        ("reassign", "super", {"party": "tongjiang", "reason": "属地调整"}),
        ("releases", "super", {"channel": "政府网站"}),
        ("close", "super", {"reason": "处置完毕"}),
    ]
    for path, who, body in steps:
        r = await desk.http.post(f"/api/incidents/{iid}/{path}", json=body, headers=desk.auth(who))
        assert r.status_code == 200, (path, r.text)
    return iid


async def scenario_report_weekly(desk) -> str:
    """The weekly report's schedule triggered: the report made, then sent (to no channel: the row says so)."""
    await ensure_report_schedules(desk.client, desk.settings, task_queue=desk.task_queue)
    handle = desk.client.get_schedule_handle(schedule_id(desk.task_queue, "weekly"))
    await handle.trigger()
    described = await eventually(lambda: _recent_action(handle))
    await desk.client.get_workflow_handle(described).result()
    for kind in ("weekly", "monthly"):
        await desk.client.get_schedule_handle(schedule_id(desk.task_queue, kind)).delete()
    return described


async def _recent_action(handle) -> str:
    actions = (await handle.describe()).info.recent_actions
    return actions[0].action.workflow_id if actions else ""


async def scenario_handover(desk) -> str:
    """交接班 handed over, not confirmed in time (the supervisor told), then confirmed late."""
    r = await desk.http.post("/api/handovers", json={"incoming": "super", "remarks": "夜班注意网民留言"},
                             headers=desk.auth("duty"))
    assert r.status_code == 201, r.text
    handover = r.json()
    await asyncio.sleep(HANDOVER_CONFIRM_SECONDS + 3)  # escalated to the supervisor
    r = await desk.http.post(f"/api/handovers/{handover['id']}/confirm", json={}, headers=desk.auth("super"))
    assert r.status_code == 200, r.text
    with session_scope(desk.database_url) as session:
        handover_workflow = session.get(Handover, handover["id"]).workflow_id
    assert await desk.client.get_workflow_handle(handover_workflow).result() == "super"
    return handover_workflow


# The handover scenario's policy: fast clocks, and a handover confirmed within seconds (30 minutes in the presets).
HANDOVER_CONFIRM_SECONDS = 3
HANDOVER_POLICY = f'\n[handover]\nconfirm_within = "{HANDOVER_CONFIRM_SECONDS}s"\nescalate_to = ["supervisor"]\n'

ASSIGN_POLICY = '[escalation]\non_assign = ["party"]\n'

SCENARIOS = [("full_life", scenario_full_life), ("refused_actions", scenario_refused_actions),
             ("shared_duties", scenario_shared_duties), ("report_weekly", scenario_report_weekly),
             ("handover", scenario_handover)]


async def main(suffix: str = "", only: str = "") -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
    )
    try:
        for name, scenario in SCENARIOS:
            if only and name != only:
                continue
            tmp = Path(tempfile.mkdtemp())
            policy = FAST
            if name == "handover":
                policy = tmp / "handover.toml"
                policy.write_text(FAST.read_text(encoding="utf-8") + HANDOVER_POLICY, encoding="utf-8")
            elif name == "full_life":  # with the 【新交办】 on opening and on reassignment, as the presets send it
                policy = tmp / "full_life.toml"
                policy.write_text(FAST.read_text(encoding="utf-8").replace("[escalation]\n", ASSIGN_POLICY, 1),
                                  encoding="utf-8")
            settings = make_settings(tmp, None, policy=str(policy), drill_policy=str(FAST))
            async for desk in start_desk(env.client, settings, f"sqlite:///{tmp / 'desk.db'}", Receiver()):
                key = await scenario(desk)  # an incident's id, or a report run's workflow id
                own_workflow = key.startswith("handover-") or "-report-" in key
                chain = await run_chain(env.client, key if own_workflow else workflow_id(desk, key))
                history = chain[0]
                (HISTORY_DIR / f"{name}{suffix}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"recorded {name}: {len(history.events)} events", file=sys.stderr)
                if len(chain) > 1:  # a run that continued as new: its first run too (it ends in continue-as-new)
                    first = chain[-1]
                    (HISTORY_DIR / f"{name}{suffix}-first.json").write_text(first.to_json(), encoding="utf-8")
                    print(f"recorded {name}, its first run: {len(first.events)} events", file=sys.stderr)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
