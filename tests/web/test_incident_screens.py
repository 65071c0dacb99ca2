"""The incident page says what to do next: the action that completes the next deadline first, open, right
under the header (also on a 390 px phone); rare actions under "More actions"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, signed_in_page

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only


def seed(database_url: str) -> str:
    now = datetime.now(UTC)
    with session_scope(database_url) as s:
        return add_incident(s, party="bazhou", level="II", status="open", title="手机上签收的事件",
                            detected_at=now - timedelta(minutes=5),
                            next_due_at=now + timedelta(minutes=55),
                            milestones={"acknowledge": "pending", "first_release": "pending"}).human_id


@pytest.mark.browser
async def test_on_a_phone_the_responder_finds_acknowledge_on_the_first_screen(web_desk, browser):
    human_id = seed(web_desk.database_url)
    ctx, page = await signed_in_page(browser, web_desk.base_url, "bazhou", f"/incidents/{human_id}", 390, 844)
    button = page.locator(".next-step").get_by_role("button", name="签收")
    assert await button.is_visible()
    box = await button.bounding_box()
    assert box["y"] + box["height"] <= 844, box  # no scrolling, no unfolding
    assert "责任单位签收" in await page.locator(".next-step .next-due").inner_text()
    await ctx.close()


@pytest.mark.browser
async def test_a_supervisor_finds_rare_actions_under_more(web_desk, browser):
    human_id = seed(web_desk.database_url)
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", f"/incidents/{human_id}", 1366, 900)
    more = page.locator("details.more-actions")
    assert await more.get_attribute("open") is None
    for rare in ("reassign", "level", "waive"):
        assert await more.locator(f"#action-{rare}").count() == 1
    assert await page.locator("#actions > #action-close").count() == 1  # closing stays in view
    await more.locator("summary").first.click()
    assert await more.locator("#action-reassign summary").is_visible()
    await ctx.close()


async def test_a_supervisor_urges_the_party_from_the_incident_page(web_desk, receiver):
    from tests.helpers import eventually, open_over_http

    human_id = await open_over_http(web_desk, title="督办测试事件")
    async with web_desk.client() as http:
        token = await web_desk.login(http, "super")
        r = await http.post(f"/incidents/{human_id}/urge", data={"csrf_token": token, "text": "请于今日18时前发布权威信息"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=urge"), r.text

        async def timeline() -> str:
            return (await http.get(f"/incidents/{human_id}")).text

        page = await timeline()
        assert "督办" in page and "请于今日18时前发布权威信息" in page
        r = await http.post(f"/incidents/{human_id}/urge", data={"csrf_token": token, "text": "   "})
        assert r.status_code == 422 and "请填写督办意见" in r.text  # next to the field, nothing sent
    # the party's channel got it, titled as an urge
    await eventually(lambda: [m for m in receiver.tagged("bazhou") if m.title.startswith("【督办】")], timeout=20)


async def test_the_incident_page_names_the_partys_liaison_with_a_phone_to_call(web_desk):
    from sqlmodel import select

    from desk.models import User

    human_id = seed(web_desk.database_url)
    with session_scope(web_desk.database_url) as s:
        liaison = s.exec(select(User).where(User.username == "bazhou")).one()
        liaison.phone = "0827-5267001"
        s.commit()
    async with web_desk.client() as http:
        await web_desk.login(http, "duty")
        page = (await http.get(f"/incidents/{human_id}")).text
    facts = page.split('class="liaisons"')[1].split("</dd>")[0]
    assert "巴州区联络员" in facts and '<a href="tel:0827-5267001">0827-5267001</a>' in facts
    assert "恩阳区联络员" not in facts  # another party's liaison is not this incident's


async def test_after_a_reassignment_the_supervisor_is_told_the_new_party_is_being_notified(web_desk, receiver):
    from tests.helpers import eventually, open_over_http

    human_id = await open_over_http(web_desk, title="改派后通知新单位")
    async with web_desk.client() as http:
        token = await web_desk.login(http, "super")
        r = await http.post(f"/incidents/{human_id}/reassign", data={"csrf_token": token, "party": "enyang",
                                                                     "reason": "属地核实为恩阳区"})
        assert r.status_code == 303, r.text
        page = (await http.get(r.headers["location"])).text
    assert "【新交办】通知正在发送给恩阳区人民政府" in page
    await eventually(lambda: [m for m in receiver.tagged("enyang") if m.title.startswith("【新交办】")], timeout=20)
