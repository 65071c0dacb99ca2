"""The pages under pressure, at each screen they are read on (a 1366 px office PC, a 390 px phone, a 1920 px wall
screen), on a PC whose clock runs two hours fast: each thing the review found is right at every width.

One walk per width (a supervisor, a duty officer and a county responder) instead of one test per point per width:
the points have their own focused tests beside this one (test_clock_skew, test_no_channel, test_board_screens,
test_incident_screens, test_print_and_assessment); this one shows that none of them breaks on another screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from desk.models import NotificationAttempt
from tests.helpers import PASSWORD, add_incident, browser_page, login, logout

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only

FAST = timedelta(hours=2)  # the PC's clock


def seed(database_url: str) -> tuple[str, str]:
    """An on-track incident (acknowledgement due in 50 minutes, a liaison with a phone) and one that missed both its
    acknowledgement and its 48-hour release, whose breach message reached no one."""
    from sqlmodel import select

    from desk.models import User

    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(database_url) as s:
        on_track = add_incident(s, party="bazhou", level="II", status="open", title="三种屏幕上按时的事件",
                                detected_at=now - timedelta(minutes=10), next_due_at=now + timedelta(minutes=50),
                                milestones={"acknowledge": "pending", "first_release": "pending"})
        missed = add_incident(s, party="pingchang", level="II", status="open", title="三种屏幕上两项超时的事件",
                              detected_at=now - timedelta(hours=50), next_due_at=now - timedelta(hours=49),
                              overdue=True, milestones={"acknowledge": "overdue", "first_release": "overdue"},
                              events=[("escalated", now - timedelta(hours=2))])
        s.add(NotificationAttempt(incident_id=missed.id, attempt_key=f"{missed.human_id}/none/1",
                                  dedupe_key=missed.human_id, kind="breach", tags="pingchang,supervisor",
                                  channel_id="none", channel="", service="", attempt=1, status="no_channel", error="",
                                  at=now - timedelta(hours=2)))
        liaison = s.exec(select(User).where(User.username == "bazhou")).one()
        liaison.phone = "0827-5267001"
        s.commit()
        return on_track.human_id, missed.human_id


async def overflow(page) -> int:  # noqa: ANN001
    return await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.browser
@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844), (1920, 1080)])
async def test_every_point_of_the_review_holds_at_this_width(web_desk, browser, width, height):
    on_track, missed = seed(web_desk.database_url)
    ctx, page = await browser_page(browser, width, height)
    await ctx.clock.install(time=datetime.now(UTC) + FAST)
    base = web_desk.base_url

    # The supervisor's board.
    await login(page, base, "super", "/login?next=/board")
    await page.wait_for_url("**/board")
    await page.wait_for_function(  # 1. the countdown counts from the server's time, not the PC's
        "id => /剩余/.test(document.querySelector(`#board-rows tr[data-id='${id}'] .countdown`).textContent)",
        arg=on_track)
    text = await page.locator(f'#board-rows tr[data-id="{on_track}"] .countdown').inner_text()
    assert "超时" not in text and ("49分" in text or "50分" in text), text
    assert await page.locator("#no-channel-banner").is_visible()  # 3. messages that reach no one are said
    row = page.locator(f'#board-rows tr[data-id="{missed}"]')
    unreached = row.locator(".bad", has_text="无人收到")
    assert await unreached.is_visible() and "1 次无人收到" in await unreached.inner_text()
    row_text = await row.inner_text()  # 4. every missed deadline, the release first
    assert "2 项超时" in row_text and row_text.index("发布权威信息") < row_text.index("责任单位签收"), row_text
    assert await page.locator("#board-legend").is_visible()  # 5. the legend says what the colours mean
    box = await row.bounding_box()  # 7. a card across a phone, a row on the others
    assert box["width"] > 0.8 * min(width, 1100), box  # (the office pages keep a reading width; the kiosk is full)
    assert await overflow(page) <= 1

    # 8. the wall-screen view at this width: no navigation, the whole width.
    await page.goto(base + "/board?kiosk=1")
    assert await page.locator("header.topbar").count() == 0
    assert (await page.locator("main").bounding_box())["width"] > 0.9 * width
    assert await overflow(page) <= 1

    # 9. the incident page: the next step first, the liaison to call; 1. its countdown is right too.
    await page.goto(base + f"/incidents/{on_track}")
    await page.wait_for_function("() => /剩余/.test(document.querySelector('.countdown[data-due]').textContent)")
    assert "超时" not in await page.locator(".countdown[data-due]").first.inner_text()
    step = page.locator(".next-step")
    assert await step.is_visible() and "责任单位签收" in await step.locator(".next-due").inner_text()
    assert await page.locator('.liaisons a[href="tel:0827-5267001"]').is_visible()
    assert await page.locator("#action-urge").count() == 1  # 督办 is the supervisor's
    assert await overflow(page) <= 1
    # 10. on paper: the handling sheet, without navigation or controls.
    await page.emulate_media(media="print")
    assert await page.locator(".print-title").is_visible()
    assert not await page.locator("header.topbar").is_visible() and not await step.is_visible()
    await page.emulate_media(media="screen")
    await logout(page)

    # 2. the duty officer opens an incident and is told who is being notified.
    await login(page, base, "duty", "/login?next=/incidents/new")
    await page.wait_for_url("**/incidents/new")
    await page.get_by_label("标题").fill(f"{width}像素屏幕上登记的事件")
    await page.get_by_label("事件类别").select_option("accident")
    await page.get_by_label("事件级别").select_option("III")
    await page.get_by_label("输入名称或代码筛选").fill("巴州")
    assert await overflow(page) <= 1
    await page.get_by_role("button", name="登记并开始计时").click()
    await page.wait_for_url("**/incidents/YQ-*")
    notice = page.get_by_text("【新交办】通知正在发送给巴州区人民政府")
    assert await notice.is_visible()
    await logout(page)

    # 7. the county's responder finds 签收 on the first screen, without scrolling or unfolding.
    await page.get_by_label("用户名").fill("bazhou")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()
    await page.goto(base + f"/incidents/{on_track}")
    button = page.locator(".next-step").get_by_role("button", name="签收")
    assert await button.is_visible()
    box = await button.bounding_box()
    assert box["y"] + box["height"] <= height, box
    await ctx.close()
