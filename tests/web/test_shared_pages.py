"""牵头/配合 and 督办事项 on the pages: the lead gives a supporting party a task (a due time in the past is refused
next to the field), the supporting party's liaison finds it in its list and reports it done; releases stay
with the lead."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from desk.db import session_scope
from desk.timefmt import SHANGHAI
from desk.users import create_user
from tests.helpers import PASSWORD, login, logout, new_page, open_over_http

# Nothing here depends on the database: the PostgreSQL pass of `make test` skips it.
pytestmark = pytest.mark.sqlite_only


def local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.browser
async def test_the_lead_gives_a_supporting_party_a_task_and_it_reports_it_done(web_desk, context):
    with session_scope(web_desk.database_url) as s:
        create_user(s, username="sthjj", password=PASSWORD, role="responder", party_code="dept-sthjj",
                    display_name="市生态环境局联络员")
    human_id = await open_over_http(web_desk, title="跨区河道污染引发关注", supporting="dept-sthjj")
    page = await new_page(context)
    await login(page, web_desk.base_url, "bazhou", f"/login?next=/incidents/{human_id}")
    await page.wait_for_url(f"**/incidents/{human_id}")
    shared = page.locator("#shared")
    assert "市生态环境局" in await shared.inner_text()  # named at opening, with its own acknowledgement deadline

    task = page.locator("#action-task")
    await task.locator("summary").click()
    await task.get_by_label("督办事项内容").fill("提供上游排污口水质监测报告")
    await task.locator("select[name=party]").select_option("dept-sthjj")
    await task.get_by_label("完成时限（北京时间）").fill(local(datetime.now(SHANGHAI) - timedelta(hours=1)))
    await task.get_by_role("button", name="交办督办事项").click()
    await page.wait_for_load_state()
    error = page.locator("#action-task .field.invalid")
    assert "完成时限必须晚于当前时间" in await error.inner_text()  # next to the due time; nothing assigned
    assert await page.locator("[data-clock=task-1]").count() == 0
    task = page.locator("#action-task")
    await task.get_by_label("完成时限（北京时间）").fill(local(datetime.now(SHANGHAI) + timedelta(hours=4)))
    await task.get_by_role("button", name="交办督办事项").click()
    await page.wait_for_url("**done=task")
    assert "提供上游排污口水质监测报告" in await page.locator("[data-clock=task-1]").inner_text()
    await logout(page)

    await login(page, web_desk.base_url, "sthjj")
    await page.wait_for_url("**/my")
    assert "提供上游排污口水质监测报告" in await page.locator("#my-tasks").inner_text()
    assert human_id in await page.locator("main").inner_text()  # the incident is in its list
    await page.locator("#my-tasks a").first.click()
    await page.wait_for_url(f"**/incidents/{human_id}")
    assert await page.locator("#action-release").count() == 0  # releases stay with the lead
    assert await page.locator("#action-acknowledge").count() == 1  # its own acknowledgement
    done = page.locator("#action-task_done")
    if await done.get_attribute("open") is None:
        await done.locator("summary").click()
    await done.get_by_label("办理结果").fill("监测报告已上报，见附件编号")
    await done.get_by_role("button", name="督办事项办结").click()
    await page.wait_for_url("**done=task_done")
    assert "监测报告已上报" in await page.locator("[data-clock=task-1]").inner_text()
    assert "督办事项办结" in await page.locator("#timeline").inner_text()
