"""Scheduled reports (the weekly summary, the monthly 通报) on the real dev server: the schedules made from the
settings once however often the desk starts, a changed setting taken up, a triggered run sent to its tag with
a link that opens only after login, and the run recorded."""

from __future__ import annotations

import re

import pytest
from temporalio.client import ScheduleAlreadyRunningError

from desk.models import ReportRun
from desk.schedules import ensure_report_schedules, schedule_id
from desk.vocab import DeliveryStatus, ReportKind, ReportStatus
from tests.helpers import SmtpReceiver, eventually, make_settings, page_login, rows, start_desk

LINK = re.compile(r"https?://\S+/reports/runs/\d+/file")


async def _ours(desk) -> list[str]:
    return sorted([s.id async for s in await desk.client.list_schedules() if s.id.startswith(desk.task_queue)])


@pytest.fixture
async def schedules(temporal_env, tmp_path, database_url, receiver):
    """The desk with two channels for the supervisor: a chat bot (json:// to the receiver) and an e-mail box."""
    mail = SmtpReceiver().start()
    config = tmp_path / "notify.yml"
    config.write_text(f"urls:\n  - {receiver.url('supervisor')}:\n    - tag: supervisor\n"
                      f"  - {mail.url()}:\n    - tag: supervisor\n", encoding="utf-8")
    async for desk in start_desk(temporal_env.client, make_settings(tmp_path, config), database_url, receiver):
        desk.mail = mail
        yield desk
    mail.stop()
    for kind in ReportKind:
        try:
            await desk.client.get_schedule_handle(schedule_id(desk.task_queue, kind)).delete()
        except Exception:  # not made by this test
            pass


async def test_starting_twice_leaves_one_schedule_of_each_and_a_changed_setting_updates_it(schedules):
    desk = schedules
    first = await ensure_report_schedules(desk.client, desk.settings, task_queue=desk.task_queue)
    again = await ensure_report_schedules(desk.client, desk.settings, task_queue=desk.task_queue)

    weekly, monthly = schedule_id(desk.task_queue, "weekly"), schedule_id(desk.task_queue, "monthly")
    assert first == {weekly: "created", monthly: "created"}
    assert again == {weekly: "unchanged", monthly: "unchanged"}
    assert await eventually(lambda: _ours(desk)) == [monthly, weekly]
    described = await desk.client.get_schedule_handle(weekly).describe()
    assert described.schedule.spec.cron_expressions == ["30 8 * * 1"] or described.schedule.spec.calendars
    assert described.schedule.spec.time_zone_name == "Asia/Shanghai"

    changed = desk.settings.model_copy(update={"report_monthly": False, "report_weekly_tags": "supervisor,bazhou"})
    assert await ensure_report_schedules(desk.client, changed, task_queue=desk.task_queue) == {
        weekly: "updated", monthly: "updated"}
    assert (await desk.client.get_schedule_handle(monthly).describe()).schedule.state.paused
    assert not (await desk.client.get_schedule_handle(weekly).describe()).schedule.state.paused
    with pytest.raises(ScheduleAlreadyRunningError):  # the fixed id: a second one cannot exist
        await desk.client.create_schedule(weekly, described.schedule)
    assert await _ours(desk) == [monthly, weekly]


async def test_a_triggered_weekly_report_reaches_chat_as_a_link_behind_the_login_and_email_as_a_file(schedules):
    desk = schedules
    await ensure_report_schedules(desk.client, desk.settings, task_queue=desk.task_queue)

    await desk.client.get_schedule_handle(schedule_id(desk.task_queue, "weekly")).trigger()

    message = (await eventually(lambda: desk.receiver.tagged("supervisor"), timeout=60))[0]
    assert message.title.startswith("【周报】关于") and "政务舆情回应情况的通报" in message.title
    assert "统计期间" in message.body
    link = LINK.search(message.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = await desk.http.get(f"/{path}")
    assert anonymous.status_code in (303, 401) and "/login" in anonymous.headers.get("location", "/login")
    await page_login(desk.http, "super")
    download = await desk.http.get(f"/{path}")
    assert download.status_code == 200
    assert download.content[:2] == b"PK"  # a .docx (a zip)
    assert ".docx" in download.headers["content-disposition"]
    assert (await desk.http.get("/reports/runs")).text.count(path) == 1

    mail = (await eventually(lambda: desk.mail.messages))[0]
    assert str(mail["subject"]).startswith("【周报】")
    files = list(mail.iter_attachments())
    assert len(files) == 1 and re.fullmatch(r"weekly-report-\d{4}-W\d{2}\.docx", files[0].get_filename())
    assert files[0].get_content() == download.content

    run = (await eventually(lambda: [r for r in rows(desk.database_url, ReportRun)
                                     if r.status != ReportStatus.made]))[0]
    assert (run.kind, run.tags, run.status) == (ReportKind.weekly, ["supervisor"], ReportStatus.delivered)
    assert re.fullmatch(r"\d{4}-W\d{2}", run.period) and run.sent_at is not None
    assert run.filename == f"通报_{run.period}.docx"
    assert sorted(d["service"] for d in run.deliveries if d["status"] == DeliveryStatus.delivered) == ["E-Mail", "JSON"]
    assert len(desk.receiver.tagged("supervisor")) == 1 and len(desk.mail.messages) == 1
