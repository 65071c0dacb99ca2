"""交接班 in the browser: the outgoing duty officer reads the note (the open incident and its deadline), hands over to
the officer the roster proposes; the incoming one finds it waiting, takes over; both are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from desk.db import session_scope
from desk.models import DutyShift, Handover, User
from desk.timefmt import SHANGHAI
from tests.helpers import add_incident, login, logout, new_page

pytestmark = pytest.mark.sqlite_only  # nothing here depends on the database


@pytest.mark.browser
async def test_a_shift_is_handed_over_and_taken_over(web_desk, context):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        users = {u.username: u.id for u in s.exec(select(User)).all()}
        s.add(DutyShift(user_id=users["duty"], starts_at=now - timedelta(hours=11), ends_at=now + timedelta(minutes=30)))
        s.add(DutyShift(user_id=users["super"], starts_at=now + timedelta(minutes=30), ends_at=now + timedelta(hours=12)))
        incident = add_incident(s, party="bazhou", level="II", status="open", title="暴雨致城区内涝",
                                detected_at=now - timedelta(hours=2), next_due_at=now + timedelta(hours=46),
                                milestones={"acknowledge": "met", "first_release": "pending"},
                                events=[("acknowledged", now - timedelta(hours=1))])
    page = await new_page(context)
    await login(page, web_desk.base_url, "duty", "/login?next=/handover")
    await page.wait_for_url("**/handover")

    note = page.locator("#draft")
    await note.get_by_text(incident.human_id).first.wait_for()
    assert "发布权威信息" in await note.inner_text()  # the next deadline, by name
    assert "签收" in await page.locator("#note-events").inner_text()  # what happened during the shift
    assert await page.get_by_label("接班人员").input_value() == "super"  # proposed from the roster
    await page.get_by_label("交班说明").fill("暴雨事件请继续跟进发布。")
    await page.get_by_role("button", name="交班", exact=True).click()
    await page.wait_for_url("**/handover/*?done=handed_over")
    assert "等待接班确认" in await page.locator("#handover-status").inner_text()
    assert page.dialogs and "交班" in page.dialogs[-1]

    await logout(page)
    await login(page, web_desk.base_url, "super", "/login?next=/handover")
    await page.wait_for_url("**/handover")
    await page.get_by_role("link", name="查看交接记录并接班").click()
    assert "暴雨事件请继续跟进发布。" in await page.locator("main").inner_text()
    await page.get_by_role("button", name="确认接班").click()
    await page.wait_for_url("**?done=confirmed")
    assert await page.locator("#handover-status h2").inner_text() == "已接班"
    assert "super" in await page.locator("#confirmed-at").inner_text()

    with session_scope(web_desk.database_url) as s:
        row = s.exec(select(Handover)).one()
    assert (row.outgoing, row.incoming, row.status) == ("duty", "super", "confirmed")
    assert row.handed_over_at <= row.confirmed_at and row.escalated_at is None
    assert [i["human_id"] for i in row.note["incidents"]] == [incident.human_id]


async def test_the_roster_page_imports_the_office_sheet_or_says_which_row_is_wrong(web_desk):
    today = datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()
    good = f"日期,开始时间,结束时间,单位,值班人员,电话\n{today},08:00,20:00,市值班室,市值班员,13800000000\n" \
           f"{today},00:00,23:59,巴州区人民政府,巴州区联络员,\n"
    bad = good + f"{today},12:00,13:00,巴州区人民政府,恩阳区联络员,\n"
    async with web_desk.client() as http:
        token = await web_desk.login(http, "super")
        r = await http.post("/roster/import", data={"csrf_token": token},
                            files={"file": ("值班表.csv", bad.encode("gb18030"), "text/csv")})
        assert r.status_code == 422
        assert "第 4 行：恩阳区联络员 不是巴州区人民政府的联络员" in r.text  # named next to the file field
        week = (await http.get("/roster")).text.split('id="week"')[1].split("</section>")[0]
        assert "巴州区联络员" not in week  # nothing of the file was imported

        r = await http.post("/roster/import", data={"csrf_token": token},
                            files={"file": ("值班表.csv", good.encode("gb18030"), "text/csv")})
        assert r.status_code == 303
        page = (await http.get(r.headers["location"])).text
        assert "值班表已导入" in page
        now = page.split('id="on-duty-now"')[1].split("</section>")[0]
        assert "巴州区联络员" in now  # today's duty, and who is on duty now
        assert "13800000000" in page.split('id="week"')[1]  # this week's table

        # One shift on the page: a second liaison for the same hours is refused next to the start field.
        r = await http.post("/roster/shifts", data={"csrf_token": token, "party": "bazhou", "person": "bazhou",
                                                    "starts_at": f"{today}T09:00", "ends_at": f"{today}T10:00"})
        assert r.status_code == 422
        assert 'id="starts_at-error">巴州区联络员 在' in r.text and "已有值班" in r.text
