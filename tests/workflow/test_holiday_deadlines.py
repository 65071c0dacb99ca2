"""Working-day deadlines in a running incident, on the time-skipping server with stub activities.

The test server's clock is wherever the earlier tests left it, so the holiday week is the test's own: an
override file (DESK_HOLIDAYS) that makes the seven days after the detecting Monday a holiday, as the Spring
Festival does. Its unit-level counterpart with the real 2026 schedule is tests/unit/test_workdays.py.

(Named to run before test_rules.py: after that module's incidents, a skip of days on the shared test server
waited in real time and timed out; not yet understood.)
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from temporalio.worker import Worker

from desk import clocks as clk
from desk.holidays import official_calendar
from desk.messages import ChangeLevel, IncidentFacts, IncidentInput
from desk.policy import policy_from_dict
from desk.vocab import SHANGHAI
from tests.workflow.stubs import deliver_to_every_channel, record_nothing
from workflows.incident import IncidentWorkflow

D = timedelta(days=1)


def holiday_week_after(monday: datetime, path) -> None:
    """DESK_HOLIDAYS: Tuesday to the next Monday off (each year the week touches gets its table)."""
    days = [monday.date() + D * i for i in range(1, 8)]
    tables = {}
    for day in days:
        tables.setdefault(day.year, []).append(f'"{day.isoformat()}"')
    path.write_text("".join(f"[{year}]\nholidays = [{', '.join(ds)}]\nworkdays = []\n" for year, ds in tables.items()),
                    encoding="utf-8")


async def test_a_working_day_deadline_opened_before_a_holiday_week_falls_due_after_it(time_skipping_env, tmp_path):
    env = time_skipping_env
    now = (await env.get_current_time()).astimezone(SHANGHAI)
    # The last Monday 10:00 (Beijing) at or before now: detected then, the deadlines still lie ahead.
    monday = datetime.combine(now.date() - D * now.weekday(), time(10, 0), SHANGHAI)
    if monday > now:
        monday -= 7 * D
    holiday_week_after(monday, tmp_path / "holidays.toml")
    policy = policy_from_dict({
        "name": "工作日时限", "milestones": [{"key": "first_release", "due": {"I": "1wd", "II": "2wd", "III": "2wd",
                                                                              "IV": "2wd"}}],
        "escalation": {"reminders": [], "on_breach": ["supervisor"]},
    }, calendar=official_calendar(tmp_path / "holidays.toml"))
    facts = IncidentFacts(incident_id=1, human_id="YQ-2026-000001", title="节前舆情", category="accident", level="III",
                          party_code="bazhou", party_name="巴州区人民政府", reporter="duty", detected_at=monday,
                          opened_at=now)
    task_queue = f"workdays-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=[deliver_to_every_channel, record_nothing]):
        handle = await env.client.start_workflow(
            IncidentWorkflow.run, IncidentInput(facts=facts, policy=policy, public_url="http://desk.test"),
            id=f"incident-workdays-{task_queue}", task_queue=task_queue)
        try:
            state = await handle.query(IncidentWorkflow.current_state)
            [release] = state.clocks
            # Two working days: the holiday week skipped, due Wednesday after it, at the detection's time of day.
            assert release.due_at == monday + 9 * D and release.state == clk.PENDING

            state = await handle.execute_update(IncidentWorkflow.change_level,
                                                ChangeLevel(actor="super", level="I", reason="多家媒体跟进"))
            [release] = state.clocks
            assert release.due_at == monday + 8 * D  # one working day: the Tuesday after the holiday

            now = await env.get_current_time()
            await env.sleep(release.due_at - now - timedelta(minutes=1))
            [release] = (await handle.query(IncidentWorkflow.current_state)).clocks
            assert release.state == clk.PENDING  # no breach during the holiday

            await env.sleep(timedelta(minutes=2))
            [release] = (await handle.query(IncidentWorkflow.current_state)).clocks
            assert release.state == clk.OVERDUE
        finally:
            await handle.terminate("test over")  # an orphaned timer would stall time skipping for the next test
