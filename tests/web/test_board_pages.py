"""The supervisor pages: the live board in Chromium, the incident timeline, the assessment page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.db import session_scope
from tests.helpers import add_incident, login, open_over_http, shanghai

NOW = datetime.now(UTC).replace(microsecond=0)


def seed_overdue(database_url: str) -> str:
    with session_scope(database_url) as s:
        incident = add_incident(
            s, party="enyang", level="II", status="open", title="已超期的发布", detected_at=NOW - timedelta(hours=50),
            next_due_at=NOW - timedelta(hours=2), overdue=True,
            milestones={"acknowledge": ("met", 0.5), "first_release": "overdue"},
            events=[("reminder_sent", NOW - timedelta(hours=26)), ("escalated", NOW - timedelta(hours=2))])
        return incident.human_id


@pytest.mark.browser
async def test_board_shows_a_new_incident_without_reload_and_overdue_first(web_desk, context):
    overdue_id = seed_overdue(web_desk.database_url)
    page = await context.new_page()
    await login(page, web_desk.base_url, "super", "/login?next=/board")
    await page.wait_for_url("**/board")
    rows = page.locator("#board-rows tr")
    assert await rows.first.get_attribute("data-id") == overdue_id
    assert "已督办 1 次" in await rows.first.inner_text()
    await page.evaluate("window.__notReloaded = true")

    new_id = await open_over_http(web_desk, title="看板应自动出现的新事件", level="III")
    # The page polls: the new row appears by itself, within 5 s, with no reload.
    await page.wait_for_selector(f'#board-rows tr[data-id="{new_id}"]', timeout=5_000)
    assert await page.evaluate("window.__notReloaded === true")
    assert await rows.first.get_attribute("data-id") == overdue_id  # overdue still first
    assert await page.locator('[data-count="open"]').inner_text() == "2"
    assert "剩余" in await page.locator(f'#board-rows tr[data-id="{new_id}"] .countdown').inner_text()

    # A filter applies at once, stays in the address bar and survives the next refresh.
    await page.select_option('select[name="party"]', "bazhou")
    await page.wait_for_url("**/board?party=bazhou")
    await page.wait_for_function("() => document.querySelectorAll('#board-rows tr[data-id]').length === 1")
    assert await rows.first.get_attribute("data-id") == new_id

    # The supervisor's timeline of the overdue incident: gaps between entries, deadline markers.
    await page.goto(f"{web_desk.base_url}/board/incidents/{overdue_id}")
    text = await page.locator("#supervisor-timeline").inner_text()
    assert "时限截止" in text and "间隔" in text


def seed_many_on_track(database_url: str, n: int, party: str) -> None:
    """n open incidents on track (acknowledgement due in 50 minutes and more), in one transaction."""
    from desk.models import Incident

    with session_scope(database_url) as s:
        s.add_all([Incident(human_id=f"YQ-B-{i:06d}", workflow_id=f"incident-bulk-{i}", title=f"批量事件 {i}",
                            source="weibo", category="accident", level="IV", party_code=party, status="open",
                            detected_at=NOW - timedelta(minutes=10), opened_at=NOW - timedelta(minutes=10),
                            next_due_at=NOW + timedelta(minutes=50, seconds=i)) for i in range(n)])
        s.commit()


@pytest.mark.browser
async def test_board_says_when_it_lists_only_part_of_the_open_incidents(web_desk, context):
    seed_many_on_track(web_desk.database_url, 501, "enyang")  # one more than the board lists (500)
    page = await context.new_page()
    await login(page, web_desk.base_url, "super", "/login?next=/board")
    await page.wait_for_url("**/board")
    notice = page.locator("#board-truncated")
    assert await notice.inner_text() == "仅显示最需关注的前 500 条，共 501 条；请用筛选缩小范围。"
    assert await page.locator("#board-rows tr").count() == 500
    above, table = await notice.bounding_box(), await page.locator("#board-table").bounding_box()
    assert above["y"] + above["height"] <= table["y"]  # above the table, where it is read first

    # The live refresh keeps it current: one more open incident, no reload.
    with session_scope(web_desk.database_url) as s:
        add_incident(s, party="bazhou", level="III", status="open", title="又一起", detected_at=NOW,
                     next_due_at=NOW + timedelta(hours=1), milestones={"acknowledge": "pending"})
    await page.wait_for_function(
        "() => document.getElementById('board-truncated').textContent.includes('共 502 条')", timeout=10_000)
    assert await page.locator('[data-count="open"]').inner_text() == "502"

    # A filter that selects fewer than 500: every one is listed, and the notice goes.
    await page.select_option('select[name="party"]', "bazhou")
    await page.wait_for_function("() => document.querySelectorAll('#board-rows tr[data-id]').length === 1")
    assert await notice.is_hidden()


async def test_pages_by_role(web_desk):
    for who, board, assessment in (("super", 200, 200), ("admin", 200, 200), ("duty", 200, 403), ("bazhou", 403, 403)):
        async with web_desk.client() as http:
            await web_desk.login(http, who)
            assert (await http.get("/board")).status_code == board, who
            assert (await http.get("/assessment")).status_code == assessment, who
    async with web_desk.client() as http:
        r = await http.get("/board")
        assert r.status_code == 303 and "/login" in r.headers["location"]


async def test_timeline_page_shows_gaps_milestones_and_deliveries(web_desk):
    detected = NOW - timedelta(hours=12)
    with session_scope(web_desk.database_url) as s:
        incident = add_incident(
            s, party="bazhou", level="III", status="open", title="时间线事件", detected_at=detected,
            next_due_at=detected + timedelta(hours=48), milestones={"acknowledge": ("met_late", 9 + 40 / 60),
                                                                   "first_release": "pending"},
            events=[("escalated", detected + timedelta(hours=1)),
                    ("acknowledged", detected + timedelta(hours=9, minutes=40))])
        from desk.models import NotificationAttempt

        s.add(NotificationAttempt(incident_id=incident.id, dedupe_key="k/breach", kind="breach", tags="bazhou",
                                  channel_id="c1", channel="json://127.0.0.1/bazhou", service="JSON", status="failed",
                                  error="HTTP 500", at=detected + timedelta(hours=1, seconds=2)))
        s.commit()
        human_id = incident.human_id
    async with web_desk.client() as http:
        await web_desk.login(http, "super")
        html = (await http.get(f"/board/incidents/{human_id}")).text
    assert "发现至责任单位签收：9小时40分" in html
    assert "间隔 8小时39分" in html  # from the failed notification to the acknowledgement
    assert "HTTP 500" in html and "时限截止" in html


async def test_assessment_page_tables_definitions_and_csv_links(web_desk):
    with session_scope(web_desk.database_url) as s:
        add_incident(s, party="bazhou", level="I", detected_at=shanghai(2026, 2, 5, 8),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 4),
                                 "press_conference": ("met_late", 30)})
    async with web_desk.client() as http:
        await web_desk.login(http, "super")
        html = (await http.get("/assessment", params={"from": "2026-02-01", "to": "2026-02-28"})).text
    assert 'id="chart-parties"' in html and 'id="table-parties"' in html and "/static/vendor/echarts.min.js" in html
    assert "/api/stats.csv?from=2026-02-01&amp;to=2026-02-28" in html
    assert "按时完成 ÷（按时完成 + 超时完成 + 已超时）" in html  # the definition, on the page
    assert "66.7%" in html  # 2 of 3 milestones on time


async def test_assessment_chart_data_cannot_break_out_of_its_script(web_desk):
    from desk.models import Party

    with session_scope(web_desk.database_url) as s:
        party = s.get(Party, "bazhou")
        party.name = "</script><script>alert(1)</script>"
        s.add(party)
        s.commit()
        add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2026, 2, 5, 8),
                     milestones={"acknowledge": ("met", 0.5)})
    async with web_desk.client() as http:
        await web_desk.login(http, "super")
        html = (await http.get("/assessment", params={"from": "2026-02-01", "to": "2026-02-28"})).text
    assert "<script>alert(1)" not in html
    assert "\\u003c/script\\u003e" in html  # the name is still there, as data
