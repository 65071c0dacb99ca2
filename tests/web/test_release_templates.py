"""The admin edits a category's release template (a placeholder that does not exist is refused next to its field,
nothing saved); the release form offers it filled with the incident's facts; "Fill in the template" fills only the
parts still empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, signed_in_page

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only


async def test_the_admin_saves_a_template_and_an_unknown_placeholder_is_named_next_to_its_field(web_desk):
    async with web_desk.client() as http:
        token = await web_desk.login(http, "admin")
        page = (await http.get("/admin/release-templates")).text
        assert "发布模板" in page and "{title}" in page and "事件标题" in page
        bad = {"csrf_token": token, "facts": "{title}", "measures": "由{leader}负责处置", "progress": ""}
        r = await http.post("/admin/release-templates/accident", data=bad)
        assert r.status_code == 422
        field = r.text.split('id="accident-measures-error"')[1].split("</span>")[0]
        assert "{leader}" in field and "不存在" in field
        assert 'aria-invalid="true"' in r.text.split('id="accident-measures"')[1].split(">")[0]
        assert "由{leader}负责处置" in r.text  # what was typed stays in the form
        good = {"csrf_token": token, "facts": "{detected_at}，{title}（{incident_id}）。", "measures": "{party}已处置。",
                "progress": "已恢复。"}
        r = await http.post("/admin/release-templates/accident", data=good)
        assert r.status_code == 303 and "saved=accident" in r.headers["location"]
        page = (await http.get(r.headers["location"])).text
        assert "由 admin 修改" in page and "已保存" in page
    async with web_desk.client() as http:  # a supervisor cannot edit templates
        token = await web_desk.login(http, "super")
        assert (await http.get("/admin/release-templates")).status_code == 403
        assert (await http.post("/admin/release-templates/accident", data=good | {"csrf_token": token})).status_code == 403


@pytest.mark.browser
async def test_the_release_form_offers_the_categorys_template_filled_with_the_incident(web_desk, browser):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        human_id = add_incident(s, party="bazhou", level="III", status="open", title="某路段山体滑坡",
                                category="natural_disaster",
                                detected_at=now - timedelta(minutes=5), next_due_at=now + timedelta(minutes=55),
                                milestones={"acknowledge": "pending", "first_release": "pending"}).human_id
    ctx, page = await signed_in_page(browser, web_desk.base_url, "bazhou", f"/incidents/{human_id}", 390, 844)
    release = page.locator("#action-release")
    if await release.get_attribute("open") is None:
        await release.locator("summary").first.click()
    facts = release.get_by_label("事实（发生了什么）")
    assert "某路段山体滑坡" in await facts.get_attribute("placeholder")  # offered, filled with the incident
    await release.get_by_label("措施（正在做什么）").fill("已封闭道路")
    await release.get_by_role("button", name="填入模板").click()
    assert "某路段山体滑坡" in await facts.input_value()  # the empty parts are filled for editing
    assert (await release.get_by_label("结果/进展").input_value()).startswith("截至目前")
    assert await release.get_by_label("措施（正在做什么）").input_value() == "已封闭道路"  # typed text is never overwritten
    await ctx.close()
