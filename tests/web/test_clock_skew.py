"""Countdowns count from the server's clock: a PC whose clock runs two hours fast still sees 50 minutes left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, login

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only

FAST = timedelta(hours=2)


def seed_on_track(database_url: str) -> str:
    """An incident whose acknowledgement falls due 50 minutes from now (detected 10 minutes ago)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(database_url) as s:
        incident = add_incident(s, party="bazhou", level="III", status="open", title="时钟偏快的电脑",
                                detected_at=now - timedelta(minutes=10), next_due_at=now + timedelta(minutes=50),
                                milestones={"acknowledge": "pending", "first_release": "pending"})
        return incident.human_id


@pytest.mark.browser
async def test_a_pc_clock_two_hours_fast_still_counts_down_from_the_server_time(web_desk, context):
    human_id = seed_on_track(web_desk.database_url)
    await context.clock.install(time=datetime.now(UTC) + FAST)  # the PC's clock, two hours fast
    page = await context.new_page()
    assert await page.evaluate("Date.now()") - datetime.now(UTC).timestamp() * 1000 > 7000_000
    await login(page, web_desk.base_url, "super", f"/login?next=/incidents/{human_id}")
    await page.wait_for_url(f"**/incidents/{human_id}")
    countdown = page.locator(".countdown[data-due]").first
    await page.wait_for_function("() => /剩余/.test(document.querySelector('.countdown[data-due]').textContent)")
    text = await countdown.inner_text()
    assert "超时" not in text and ("49分" in text or "50分" in text), text
    assert "green" in (await countdown.get_attribute("class"))

    await page.goto(f"{web_desk.base_url}/board")
    row = page.locator(f'#board-rows tr[data-id="{human_id}"]')
    await page.wait_for_function(
        "id => /剩余/.test(document.querySelector(`#board-rows tr[data-id='${id}'] .countdown`).textContent)", arg=human_id)
    text = await row.locator(".countdown").inner_text()
    assert "超时" not in text and ("49分" in text or "50分" in text), text
    assert "red" not in (await row.locator(".countdown").get_attribute("class"))
    # After a poll (which also carries the server's time) the row is still on track, not painted red.
    await page.wait_for_function("() => /\\d/.test(document.getElementById('board-status').textContent)")
    assert "red" not in (await row.locator(".countdown").get_attribute("class"))
