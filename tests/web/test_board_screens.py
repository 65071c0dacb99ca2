"""The board on the screens it is read on: every missed deadline named (the release first), a 390 px phone
(rows as cards), a 1920×1080 wall screen (the kiosk view)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, browser_page, login, signed_in_page
from tests.web.test_board_pages import seed_many_on_track
from tests.web.test_web_pages import SCREENSHOTS

NOW = datetime.now(UTC).replace(microsecond=0)


def seed_two_missed(database_url: str) -> str:
    """Detected 50 hours ago: the one-hour acknowledgement and the 48-hour release both missed."""
    with session_scope(database_url) as s:
        return add_incident(s, party="enyang", level="II", status="open", title="两项超时的事件",
                            detected_at=NOW - timedelta(hours=50), next_due_at=NOW - timedelta(hours=49), overdue=True,
                            milestones={"acknowledge": "overdue", "first_release": "overdue"}).human_id


@pytest.mark.browser
async def test_a_missed_release_is_named_first_beside_an_earlier_missed_acknowledgement(web_desk, browser):
    human_id = seed_two_missed(web_desk.database_url)
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", "/board", 1366, 800)
    row = page.locator(f'#board-rows tr[data-id="{human_id}"]')
    first_paint = await row.inner_text()
    assert "2 项超时" in first_paint and first_paint.index("发布权威信息") < first_paint.index("责任单位签收"), first_paint
    # the countdown is the release's: 2 hours over (its deadline), not the acknowledgement's 49
    await page.wait_for_function("id => /超时/.test(document.querySelector(`tr[data-id='${id}'] .countdown`).textContent)",
                                 arg=human_id)
    assert "2小时" in await row.locator(".countdown").inner_text()
    # the same after the page's own poll redrew the rows
    await page.wait_for_function("() => /\\d/.test(document.getElementById('board-status').textContent)")
    polled = await row.inner_text()
    assert "2 项超时" in polled and polled.index("发布权威信息") < polled.index("责任单位签收"), polled
    # the incident list says the same
    await page.goto(f"{web_desk.base_url}/incidents")
    item = await page.locator("ul.incidents li", has_text=human_id).inner_text()
    assert "2 项超时" in item and item.index("发布权威信息") < item.index("责任单位签收") and "超时 2小时" in item, item
    await ctx.close()


@pytest.mark.browser
async def test_on_a_phone_board_rows_are_cards_with_labelled_cells(web_desk, browser):
    human_id = seed_two_missed(web_desk.database_url)
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", "/board", 390, 844)
    row = page.locator(f'#board-rows tr[data-id="{human_id}"]')
    assert not await page.locator("#board-table thead").is_visible()
    box = await row.bounding_box()
    assert box["width"] > 330  # a card across the screen, not a column squeezed to one character
    for cell in await row.locator("td").all():
        assert (await cell.bounding_box())["width"] > 300
    label = await row.locator("td").nth(2).evaluate("td => getComputedStyle(td, '::before').content")
    assert "责任单位" in label
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    await page.screenshot(path=str(SCREENSHOTS / "board.zh-CN.390px.png"), full_page=True)
    await ctx.close()


@pytest.mark.browser
async def test_the_wall_screen_shows_no_navigation_and_pages_through_rows_that_do_not_fit(web_desk, browser):
    seed_many_on_track(web_desk.database_url, 40, "bazhou")
    human_id = seed_two_missed(web_desk.database_url)
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", "/board?kiosk=1", 1920, 1080)
    assert await page.locator("header.topbar").count() == 0 and not await page.locator("#board-filters").is_visible()
    main = await page.locator("main").bounding_box()
    assert main["width"] > 1800  # the whole width, not the 1,088 px column of the other pages
    assert float(await page.locator(".countdown").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 26
    await page.wait_for_function("() => /第 1\\/\\d+ 页/.test(document.getElementById('board-page').textContent)")
    visible = await page.locator("#board-rows tr:not([hidden])").count()
    assert 5 < visible < 41
    assert await page.locator(f'#board-rows tr[data-id="{human_id}"]').is_visible()  # overdue first, on page 1
    await page.screenshot(path=str(SCREENSHOTS / "board-kiosk.zh-CN.1920px.png"))
    await page.wait_for_function("() => /第 2\\/\\d+ 页/.test(document.getElementById('board-page').textContent)",
                                 timeout=15_000)
    assert not await page.locator(f'#board-rows tr[data-id="{human_id}"]').is_visible()
    # the filters of the address still apply (the poll keeps them)
    assert "kiosk=1" in page.url
    await ctx.close()


@pytest.mark.browser
async def test_a_row_that_becomes_overdue_while_watched_flashes(web_desk, browser):
    with session_scope(web_desk.database_url) as s:
        # due a while after the page is up: with 4 s, it timed out once under `make test` (the long faults beside
        # it); a page slower to come up than that draws the row overdue already, and never sees it turn
        soon = datetime.now(UTC) + timedelta(seconds=15)
        human_id = add_incident(s, party="bazhou", level="IV", status="open", title="即将超时",
                                detected_at=soon - timedelta(hours=1), next_due_at=soon,
                                milestones={"acknowledge": "pending"}).human_id
    ctx, page = await browser_page(browser, 1920, 1080)
    await login(page, web_desk.base_url, "super", "/login?next=/board%3Fkiosk%3D1")
    row = page.locator(f'#board-rows tr[data-id="{human_id}"]')
    assert "just-overdue" not in (await row.get_attribute("class") or "")
    await page.wait_for_function(
        "id => document.querySelector(`#board-rows tr[data-id='${id}']`).classList.contains('just-overdue')",
        arg=human_id, timeout=40_000)
    await ctx.close()
