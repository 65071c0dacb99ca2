"""Every page at the three screens it is read on (a 1366 px office PC, a 390 px phone, a 1920 px wall screen):
nothing runs off the side (wide tables scroll inside their card), and the page's main thing is visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, signed_in_page

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.browser
@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844), (1920, 1080)])
async def test_no_page_runs_off_the_side_of_the_screen(web_desk, browser, width, height):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        human_id = add_incident(s, party="bazhou", level="I", status="open", title="三种屏幕上的事件" * 3,
                                detected_at=now - timedelta(hours=30), next_due_at=now - timedelta(hours=29), overdue=True,
                                milestones={"acknowledge": "overdue", "first_release": "pending",
                                            "press_conference": "overdue"}).human_id
    ctx, page = await signed_in_page(browser, web_desk.base_url, "super", "/incidents", width, height)
    main_thing = {"/incidents": "ul.incidents", "/incidents/new": "form", f"/incidents/{human_id}": "#incident-title",
                  "/board": "#board-table", f"/board/incidents/{human_id}": "#supervisor-timeline",
                  "/assessment": "#table-parties", "/roster": "#roster-table", "/handover": "#draft"}
    overflowing = {}
    for path, selector in main_thing.items():
        await page.goto(web_desk.base_url + path)
        await page.wait_for_load_state("networkidle")
        assert await page.locator(selector).first.is_visible(), f"{path} at {width}px: {selector} not shown"
        wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if wide > 1:
            overflowing[path] = wide
    await ctx.close()
    assert overflowing == {}, f"pages wider than {width}px by so many pixels"
