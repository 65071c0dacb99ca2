"""Every page in both languages: no sentence of the other language, no raw code (``no_channel``,
``reminder_sent``) where a person reads. Data people typed (titles, party and person names) is made to match
the page's language, so what is left is the desk's own words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from desk.db import session_scope
from desk.models import DutyShift, NotificationAttempt, Party, User
from tests.helpers import add_incident, browser_page, login

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = pytest.mark.sqlite_only

CJK = re.compile(r"[\u4e00-\u9fff]+")
RAW_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # snake_case: a code, not a word
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{4,}\b")
# Words that stay as they are in Chinese too: units, formats and names people know in Latin letters.
LATIN_IN_CHINESE = {"English", "CSV", "JSON", "ECharts", "DESK_NOTIFY_CONFIG", "https", "http",
                    "Excel", "MEDIAN", "PERCENTILE",  # the spreadsheet functions the definitions name
                    "docx", "xlsx", "PDF"}  # file formats, named as on any Chinese office PC (like CSV)
CHINESE_IN_ENGLISH = {"中文"}  # the language switch says its language in that language


def seed(database_url: str, english: bool) -> tuple[str, str]:
    now = datetime.now(UTC)
    with session_scope(database_url) as s:
        # the data, in the page's language (the desk translates its own words, not people's)
        for party in s.exec(select(Party)).all():
            party.name = f"Party {party.code.title()}" if english else party.name
        for user in s.exec(select(User)).all():
            user.display_name = f"User {user.username.title()}" if english else "督办员"
        s.commit()
        title = "Gas leak draws attention" if english else "燃气泄漏引发关注"
        overdue = add_incident(s, party="bazhou", level="II", status="open", title=title,
                               detected_at=now - timedelta(hours=50), next_due_at=now - timedelta(hours=49), overdue=True,
                               milestones={"acknowledge": "overdue", "first_release": "overdue"},
                               events=[("reminder_sent", now - timedelta(hours=49, minutes=30)),
                                       ("escalated", now - timedelta(hours=49))])
        s.add(NotificationAttempt(incident_id=overdue.id, attempt_key="k/none/1", dedupe_key="k", kind="breach",
                                  tags="bazhou", channel_id="none", channel="", service="", attempt=1,
                                  status="no_channel", error="", at=now - timedelta(hours=49)))
        s.commit()
        users = {u.username: u.id for u in s.exec(select(User)).all()}
        s.add(DutyShift(user_id=users["duty"], starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)))
        s.add(DutyShift(party_code="bazhou", user_id=users["bazhou"], starts_at=now, ends_at=now + timedelta(hours=8)))
        s.commit()
        done = add_incident(s, party="bazhou", level="III", detected_at=now - timedelta(days=3), title=title,
                            milestones={"acknowledge": ("met", 0.5), "first_release": ("met_late", 50)})
        return overdue.human_id, done.human_id


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_speaks_one_language_and_shows_no_raw_code(web_desk, browser, lang):
    overdue, closed = seed(web_desk.database_url, english=lang == "en")
    ctx, page = await browser_page(browser, 1366, 900)
    await login(page, web_desk.base_url, "super")
    if lang == "en":
        await page.get_by_role("button", name="English").click()
        await page.wait_for_load_state()
    pages = ["/incidents", "/incidents?status=all", "/incidents/new", f"/incidents/{overdue}", f"/incidents/{closed}",
             "/board", f"/board/incidents/{overdue}", "/assessment", "/roster", "/handover"]
    found: dict[str, list[str]] = {}
    for path in pages:
        await page.goto(web_desk.base_url + path)
        await page.wait_for_load_state("networkidle")
        text = await page.locator("body").inner_text()
        wrong = [w for w in CJK.findall(text) if w not in CHINESE_IN_ENGLISH] if lang == "en" else \
            [w for w in ENGLISH_WORD.findall(text) if w not in LATIN_IN_CHINESE]
        codes = RAW_CODE.findall(text)
        if wrong or codes:
            found[path] = sorted(set(wrong))[:12] + sorted(set(codes))
    await ctx.close()
    assert found == {}, "\n".join(f"{p}: {w}" for p, w in found.items())
