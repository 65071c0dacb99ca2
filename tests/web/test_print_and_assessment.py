"""Paper and the assessment: the incident prints as a handling sheet (处置单) without controls, with the print
time; the assessment ranks parties by on-time rate, says durations in words, keeps headings on one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, shanghai, signed_in_page

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.browser
async def test_the_incident_prints_as_a_handling_sheet_without_navigation_or_forms(web_desk, browser):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        human_id = add_incident(s, party="bazhou", level="II", status="open", title="打印处置单",
                                detected_at=now - timedelta(minutes=5), next_due_at=now + timedelta(minutes=55),
                                milestones={"acknowledge": "pending", "first_release": "pending"}).human_id
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", f"/incidents/{human_id}", 1366, 900)
    assert not await page.locator(".print-title").is_visible()  # on screen: not shown
    await page.emulate_media(media="print")
    assert await page.locator(".print-title").inner_text() == "舆情事件处置单"
    stamp = await page.locator(".print-stamp").inner_text()
    assert "打印时间：" in stamp and "北京时间" in stamp
    for hidden in ("header.topbar", ".next-step", "#actions", "form"):
        for element in await page.locator(hidden).all():
            assert not await element.is_visible(), hidden
    assert await page.locator("#incident-title").is_visible() and await page.locator("#timeline").is_visible()
    await ctx.close()


async def test_the_assessment_ranks_parties_by_on_time_rate_and_says_hours_in_words(web_desk):
    with session_scope(web_desk.database_url) as s:  # 巴州区 1 of 2 on time; 恩阳区 2 of 2
        add_incident(s, party="bazhou", level="III", detected_at=shanghai(2026, 2, 5, 8),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met_late", 50)})
        add_incident(s, party="enyang", level="III", detected_at=shanghai(2026, 2, 6, 8),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 40)})
    async with web_desk.client() as http:
        await web_desk.login(http, "super")
        html = (await http.get("/assessment", params={"from": "2026-02-01", "to": "2026-02-28"})).text
    table = html.split('id="table-parties"')[1].split("</table>")[0]
    assert "<th class=\"num\">排名</th>" in table
    assert table.index("恩阳区") < table.index("巴州区")  # 100% before 50%, not by name
    rows = table.split("<tr>")
    assert '<td class="num">1</td><td>恩阳区人民政府</td>' in table, rows
    assert '<td class="num">2</td><td>巴州区人民政府</td>' in table, rows
    import re
    durations = re.findall(r"<td class=.num.>[^<]*[时h][^<]*</td>", table)
    assert "40小时" in table and not re.search(r"\d\.\d\d h", table), durations  # the one formatter, not "40.00 h"


@pytest.mark.browser
async def test_assessment_headings_stay_on_one_line(web_desk, browser):
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", "/assessment", 1366, 900)
    heights = await page.locator("#table-parties thead th").evaluate_all(
        "ths => ths.map(th => th.getBoundingClientRect().height)")
    line = await page.locator("#table-parties thead th").first.evaluate("th => parseFloat(getComputedStyle(th).lineHeight) || 24")
    assert max(heights) < 2 * line + 16, heights  # one line each, not one character per line
    await ctx.close()


@pytest.mark.browser
async def test_the_review_opens_from_the_incident_and_prints_on_a4_without_controls(web_desk, browser):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        human_id = add_incident(s, party="bazhou", level="II", status="closed", title="复盘页面的事件",
                                detected_at=now - timedelta(hours=60),
                                milestones={"acknowledge": ("met", 0.5), "first_release": ("met_late", 50)}).human_id
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", f"/incidents/{human_id}", 1366, 900)
    await page.get_by_role("link", name="复盘报告（打印、.docx、PDF）").click()
    await page.wait_for_url(f"**/incidents/{human_id}/review")
    report = page.locator("article.report")
    assert await report.locator(".report-title").inner_text() == "复盘报告：复盘页面的事件"
    text = await report.inner_text()
    for expected in ("巴州区人民政府", "级别变化", "超时完成", "附件", "本事件没有附件记录。", "通知送达", "时间线"):
        assert expected in text, expected
    assert await report.locator(".report-title").evaluate("e => getComputedStyle(e).textAlign") == "center"  # its CSS
    assert await page.get_by_role("link", name="下载 PDF").get_attribute("href") == f"/incidents/{human_id}/review.pdf"
    await page.emulate_media(media="print")
    assert not await page.locator(".report-actions").is_visible() and not await page.locator("header.topbar").is_visible()
    assert await report.is_visible()
    await ctx.close()
