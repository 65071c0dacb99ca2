"""The new-incident form shows likely duplicates while the title is typed, and a new report can be merged into
one of them (SPEC §9). Nothing here depends on the database (the similarity is tested on both in
tests/system/test_duplicates.py)."""

from __future__ import annotations

import pytest

from tests.helpers import login, open_over_http

pytestmark = pytest.mark.sqlite_only


async def test_typing_a_title_shows_the_likely_duplicate_and_the_report_is_merged_into_it(web_desk, context):
    existing = await open_over_http(web_desk, title="巴州区某小区燃气爆炸", idempotency_key="web-" + "a" * 20)
    await open_over_http(web_desk, title="恩阳区景区门票争议", party="enyang", idempotency_key="web-" + "b" * 20)
    page = await context.new_page()
    await login(page, web_desk.base_url, "duty", "/login?next=/incidents/new")
    await page.wait_for_url("**/incidents/new")
    hint = page.locator("#duplicates")
    assert await hint.is_hidden()

    await page.get_by_label("标题").press_sequentially("燃气泄漏引发爆炸", delay=30)
    await hint.get_by_role("link", name=f"{existing} 巴州区某小区燃气爆炸").wait_for()
    assert "恩阳区景区门票争议" not in await hint.inner_text()
    assert "可能是同一话题（近 14 天）" in await hint.inner_text()

    await hint.get_by_label("将新报告并入该事件").check()
    await page.get_by_label("事件类别").select_option("accident")
    await page.get_by_label("事件级别").select_option("III")
    await page.get_by_label("输入名称或代码筛选").fill("bazhou")
    page.on("dialog", lambda d: d.accept())
    await page.get_by_role("button", name="登记并开始计时").click()
    await page.wait_for_url("**/incidents/YQ-*?done=merge")
    assert f"已并入 {existing}" in await page.locator("#relations").inner_text()
    assert "已结案" in await page.locator("header.card").inner_text()

    # On the survivor's page, the merged report is listed and its timeline says so.
    await page.get_by_role("link", name=f"{existing} 巴州区某小区燃气爆炸").first.click()
    await page.wait_for_url(f"**/incidents/{existing}")
    assert "并入本事件的事件" in await page.locator("#relations").inner_text()

    # Merging it into itself: the sentence next to the field, and nothing done.
    async with web_desk.client() as http:
        token = await web_desk.login(http, "duty")
        r = await http.post(f"/incidents/{existing}/merge", data={"csrf_token": token, "into": existing})
        assert r.status_code == 422
        field = r.text.split('id="merge-into"', 1)[1].split("</div>", 1)[0]
        assert "不能把事件合并到它自己，请选择另一个事件。" in field
    assert [i.status for i in web_desk.incidents()] == ["open", "open", "closed"]
