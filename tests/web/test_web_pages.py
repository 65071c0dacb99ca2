"""The pages in a real browser (Debian's Chromium, headless) against the real app, worker and Temporal."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, eventually, login, logout, new_page, open_over_http  # noqa: F401

pytestmark = pytest.mark.browser
# DESK_SCREENSHOTS=docs/screenshots refreshes the committed screenshots; otherwise they go to a temp dir.
SCREENSHOTS = Path(os.environ.get("DESK_SCREENSHOTS") or tempfile.mkdtemp(prefix="desk-screenshots-"))
XSS = "<script>alert(1)</script>"


def only_local(context, base_url: str) -> list[str]:
    """Requests that left the app (there must be none: intranets have no internet)."""
    return [u for u in context.requests if not u.startswith(base_url) and not u.startswith(("data:", "blob:"))]


async def test_duty_officer_opens_and_responder_acknowledges_and_releases(web_desk, context):
    base = web_desk.base_url
    page = await new_page(context)

    # The duty officer follows a link to the form, logs in, and comes back to it.
    await page.goto(base + "/incidents/new")
    assert "/login?next=/incidents/new" in page.url
    await page.get_by_label("用户名").fill("duty")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/incidents/new")

    await page.get_by_label("标题").fill("巴州区某路段山体滑坡引发网络关注")
    await page.get_by_label("摘要").fill("网友在微博发布滑坡视频，转发量快速上升。")
    await page.get_by_label("来源", exact=True).select_option("weibo")
    await page.get_by_label("来源链接").fill("https://weibo.example/status/1")
    await page.get_by_label("事件类别").select_option("natural_disaster")
    await page.get_by_label("事件级别").select_option("I")
    await page.get_by_label("输入名称或代码筛选").fill("巴州")
    assert await page.locator("#party").input_value() == "bazhou"
    detected = await page.locator("#detected_at").input_value()
    assert detected, "the detected time defaults to now"

    # Before submitting, the form shows what this level gets under the active policy (巴中市).
    preview = page.locator("#deadline-preview")
    await preview.get_by_text("举行新闻发布会").wait_for()
    text = await preview.inner_text()
    assert "巴中市" in text and "责任单位签收" in text and "发布权威信息" in text and "发现后 1小时" in text
    assert "发现后 48小时" in text and "发现后 24小时" in text  # as the policy says it: 48 h release, 24 h press conference
    await page.get_by_label("事件级别").select_option("III")
    await page.wait_for_function("() => !document.getElementById('deadline-preview').textContent.includes('新闻发布会')")
    await page.get_by_label("事件级别").select_option("I")
    await preview.get_by_text("举行新闻发布会").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "incident-form.zh-CN.png"), full_page=True)

    await page.get_by_role("button", name="登记并开始计时").click()
    await page.wait_for_url("**/incidents/YQ-*")
    human_id = page.url.split("/incidents/")[1].split("?")[0]
    await page.get_by_text(f"已登记 {human_id}").wait_for()
    countdowns = page.locator(".countdown")
    assert await countdowns.count() == 3  # 签收, 发布权威信息, 新闻发布会
    await page.wait_for_function("() => document.querySelector('.countdown').textContent.startsWith('剩余')")
    assert "green" in (await countdowns.first.get_attribute("class"))
    assert not await page.locator("#action-acknowledge").count(), "a duty officer does not acknowledge"
    await logout(page)

    # The responder of 巴州区 follows the notification link, logs in, lands on the incident.
    await page.goto(base + f"/incidents/{human_id}")
    assert "/login?next=" in page.url
    await page.get_by_label("用户名").fill("bazhou")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"**/incidents/{human_id}")

    # What is due next is offered first, open, right under the header: no section to unfold.
    next_step = page.locator(".next-step")
    assert "责任单位签收" in await next_step.locator(".next-due").inner_text()
    assert await next_step.locator("#action-acknowledge").get_by_role("button", name="签收").is_visible()
    await page.locator("#action-acknowledge").get_by_label("备注（可选）").fill("已安排现场核查")
    await page.locator("#action-acknowledge").get_by_role("button", name="签收").click()
    await page.wait_for_url("**done=acknowledge")
    assert page.dialogs and "签收" in page.dialogs[-1] and human_id in page.dialogs[-1]
    await page.locator("[data-milestone=acknowledge]").get_by_text("按时完成").wait_for()

    release = page.locator("#action-release")
    await release.locator("summary").click()
    await release.get_by_label("渠道").fill("政府网站")
    await release.get_by_label("发布链接").fill("https://www.cnbz.gov.cn/notice/1")
    await release.get_by_label("发布内容").fill("通报滑坡处置情况")
    await release.get_by_role("button", name="记录权威信息发布").click()
    await page.wait_for_url("**done=release")
    assert "发布权威信息" in page.dialogs[-1]

    first_release = await page.locator("[data-milestone=first_release]").inner_text()
    assert "按时完成" in first_release and "提前" in first_release
    timeline = page.locator("#timeline")
    entries = timeline.locator("li")
    assert "发布权威信息" in await entries.nth(0).inner_text()  # newest first
    text = await timeline.inner_text()
    assert "已签收" in text and "已安排现场核查" in text and "政府网站" in text and "巴州区联络员" in text
    assert "登记舆情" in text and "市值班员" in text
    assert await timeline.get_by_role("link", name="https://www.cnbz.gov.cn/notice/1").count() == 1
    await page.screenshot(path=str(SCREENSHOTS / "incident-page.zh-CN.png"), full_page=True)

    # The same page on a 360 px phone: nothing wider than the screen.
    await page.set_viewport_size({"width": 360, "height": 780})
    await page.reload()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(SCREENSHOTS / "incident-page.zh-CN.360px.png"), full_page=True)

    assert only_local(context, base) == []
    assert any(u.endswith("/static/desk.css") for u in context.requests)


async def test_responder_of_another_party_cannot_see_it(web_desk, context):
    human_id = await open_over_http(web_desk)
    page = await new_page(context)
    await login(page, web_desk.base_url, "enyang")
    assert page.url.endswith("/my")
    assert human_id not in await page.content()
    response = await page.goto(web_desk.base_url + f"/incidents/{human_id}")
    # The same page as for a number nobody has: no hint that the id belongs to another party.
    assert response.status == 404
    assert f"没有编号为 {human_id} 的舆情事件" in await page.locator("main").inner_text()
    await page.goto(web_desk.base_url + "/incidents?status=all")
    assert human_id not in await page.content()

    # ...while the responder of 巴州区 finds it on its own list, most urgent first.
    await logout(page)
    await login(page, web_desk.base_url, "bazhou")
    assert await page.get_by_role("link", name=human_id).count() == 1


async def test_bad_form_shows_errors_next_to_fields_and_keeps_input(web_desk, context):
    page = await new_page(context)
    await login(page, web_desk.base_url, "duty", "/login?next=/incidents/new")
    await page.wait_for_url("**/incidents/new")
    await page.get_by_label("摘要").fill("这段摘要不能丢")
    await page.get_by_label("事件类别").select_option("accident")
    await page.get_by_label("事件级别").select_option("III")
    await page.get_by_label("输入名称或代码筛选").fill("enyang")
    await page.locator("#detected_at").fill("2099-01-01T08:00")
    await page.get_by_role("button", name="登记并开始计时").click()
    await page.wait_for_load_state()

    title_field = page.locator(".field", has=page.locator("#title"))
    assert "请填写标题" in await title_field.locator(".error-text").inner_text()
    assert await page.locator("#title").get_attribute("aria-invalid") == "true"
    detected_field = page.locator(".field", has=page.locator("#detected_at"))
    assert "发现时间不能晚于当前时间" in await detected_field.locator(".error-text").inner_text()
    assert await page.get_by_label("摘要").input_value() == "这段摘要不能丢"
    assert await page.locator("#party").input_value() == "enyang"
    assert await page.locator("#category").input_value() == "accident"
    assert await page.locator("#detected_at").input_value() == "2099-01-01T08:00"
    assert web_desk.incidents() == []

    # Corrected, the same form opens exactly one incident, even on a double click.
    await page.get_by_label("标题").fill("恩阳区某学校食堂问题引发关注")
    await page.locator("#detected_at").fill("2026-01-01T08:00")
    await page.get_by_role("button", name="登记并开始计时").dblclick()
    await page.wait_for_url("**/incidents/YQ-*")
    await eventually(lambda: len(web_desk.incidents()) == 1)
    assert len(web_desk.incidents()) == 1
    # Detected long ago: every clock already overdue, shown red.
    await page.wait_for_function("() => document.querySelectorAll('.countdown.red').length >= 2")
    assert "已超时" in await page.locator(".countdown").first.inner_text()


async def test_script_in_title_and_note_is_shown_as_text(web_desk, context):
    human_id = await open_over_http(web_desk, title=f"标题{XSS}", summary=f"摘要{XSS}")
    page = await new_page(context)
    await login(page, web_desk.base_url, "bazhou")
    await page.goto(web_desk.base_url + f"/incidents/{human_id}")
    note = page.locator("#action-note")
    await note.locator("summary").click()
    await note.get_by_label("备注").fill(f"备注{XSS}")
    await note.get_by_role("button", name="添加备注").click()
    await page.wait_for_url("**done=note")
    page.dialogs.clear()  # the note's confirmation was the only dialog so far

    assert f"标题{XSS}" in await page.locator("h1").inner_text()
    assert f"备注{XSS}" in await page.locator("#timeline").inner_text()
    assert f"摘要{XSS}" in await page.locator(".facts").inner_text()
    assert await page.locator("main script").count() == 0
    await page.goto(web_desk.base_url + "/my")
    assert f"标题{XSS}" in await page.locator("main").inner_text()
    await page.reload()
    assert page.dialogs == [], "a script from the data ran"
