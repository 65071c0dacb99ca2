"""值班表: the office's spreadsheet imported all or nothing (a wrong row named by row and column, nothing written),
and a message to a party reaching its liaison on duty at that moment through that person's own channel."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import event
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier, load_channels
from desk import channels, roster
from desk.db import get_engine, init_db, session_scope
from desk.messages import Deliver
from desk.models import DutyShift, NotificationDelivery, Party, User
from desk.timefmt import SHANGHAI
from desk.vocab import Audience
from tests.helpers import add_incident, add_users

HEADER = ["日期", "开始时间", "结束时间", "单位", "值班人员", "电话"]


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_liaisons(database_url: str, receiver=None) -> None:  # noqa: ANN001 (a Receiver)
    """The test users, and two more liaisons of 巴州区 with channels of their own on the receiver (added the way
    the admin channels page adds them: 值班时本人接收)."""
    add_users(database_url)
    with session_scope(database_url) as s:
        hashed = s.exec(select(User.password_hash).where(User.username == "bazhou")).one()  # no second argon2 run
        for name, display in (("bz-day", "白班联络员"), ("bz-night", "夜班联络员")):
            person = User(username=name, display_name=display, password_hash=hashed, role="responder",
                          party_code="bazhou")
            s.add(person)
            s.flush()
            if receiver:
                channels.add_channel(s, audience=Audience.on_duty, url=receiver.url(name), user_id=person.id,
                                     actor="admin", commit=False)
        s.commit()


def test_a_week_imported_from_xlsx_says_who_is_on_duty_when(database_url):
    with_liaisons(database_url)
    sheet = xlsx([
        ["2026-12-01", "08:30", "17:30", "巴州区人民政府", "白班联络员", "13800000001"],
        ["2026-12-01", "17:30", "08:30", "bazhou", "bz-night", ""],  # past midnight: ends the next morning
        ["2026/12/01", "08:00", "20:00", "市值班室", "duty", ""],
    ])
    with session_scope(database_url) as s:
        done = roster.import_roster(s, filename="十二月值班表.xlsx", content=sheet, actor="super")
        assert done.added == 3
        evening = datetime(2026, 12, 1, 23, 0, tzinfo=SHANGHAI)
        assert [p.username for p in roster.recipients_on_duty(s, party="bazhou", at=evening)] == ["bz-night"]
        noon = datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)
        assert [(p.username, p.phone) for p in roster.recipients_on_duty(s, party="bazhou", at=noon)] == [
            ("bz-day", "13800000001")]
        assert [p.username for p in roster.recipients_on_duty(s, party=None, at=noon)] == ["duty"]
        next_morning = datetime(2026, 12, 2, 8, 29, tzinfo=SHANGHAI)
        assert [p.username for p in roster.recipients_on_duty(s, party="bazhou", at=next_morning)] == ["bz-night"]
        # A corrected file for the same day replaces that day's shifts, not adds to them.
        again = roster.import_roster(s, filename="十二月值班表.xlsx", content=sheet, actor="super")
        assert (again.added, again.replaced) == (3, 3)
        assert len(s.exec(select(DutyShift)).all()) == 3


WRONG_FILES = [
    ([["2026-12-01", "08:30", "17:30", "巴州区政府", "白班联络员"]],
     "第 2 行 D 列（单位）：没有名为“巴州区政府”的单位"),
    ([["2026-12-01", "08:30", "17:30", "bazhou", "白班联络员"],
      ["2026-12-01", "12:00", "20:00", "bazhou", "夜班联络员"]],
     "第 2 行与第 3 行：巴州区人民政府同一时段排了两名值班联络员"),
    ([["2026-12-01", "08:30", "17:30", "bazhou", "白班联络员"],
      ["2026-12-01", "9点", "17:30", "市值班室", "duty"]],
     "第 3 行 B 列（开始时间）：“9点”不是时间"),
]


def test_the_urls_a_delivery_reaches_on_duty_are_read_in_one_statement_in_roster_order(database_url):
    """Every delivery asks who is on duty for its tags: one statement, the same answer as asking each party's
    roster (liaisons on duty, active, with URLs of their own), by tag, shift and URL."""
    class Urls:
        @staticmethod
        def url(name: str) -> str:
            return f"json://127.0.0.1:9/{name}"

    with_liaisons(database_url, Urls())
    day = datetime(2026, 12, 1, tzinfo=SHANGHAI)
    noon = day + timedelta(hours=12)
    with session_scope(database_url) as s:
        users = {u.username: u for u in s.exec(select(User)).all()}
        for person, name in (("enyang", "ey-1"), ("enyang", "ey-2"), ("bz-day", "bz-2"), ("bazhou", "bz-gone")):
            channels.add_channel(s, audience=Audience.on_duty, url=Urls.url(name), user_id=users[person].id,
                                 actor="admin", commit=False)
        users["bazhou"].active = False  # on duty by the roster, but no longer a user: not reached
        for person, party, start, end in (("bz-day", "bazhou", 8, 18), ("bz-night", "bazhou", 18, 32),
                                          ("enyang", "enyang", 11, 13), ("bazhou", "bazhou", 11, 13),
                                          ("duty", None, 8, 20)):
            s.add(DutyShift(party_code=party, user_id=users[person].id, starts_at=day + timedelta(hours=start),
                            ends_at=day + timedelta(hours=end)))
        s.commit()
        tags = ["supervisor", "enyang", "bazhou-leaders", "bazhou", "enyang"]
        asked_each = [(tag, url) for tag in dict.fromkeys(tags) if s.get(Party, tag) is not None
                      for p in roster.recipients_on_duty(s, party=tag, at=noon) for url in p.notify_urls]
        statements: list[str] = []
        engine = get_engine(database_url)
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            found = roster.personal_urls_on_duty(s, tags=tags, at=noon)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert found == asked_each == [("enyang", Urls.url("ey-1")), ("enyang", Urls.url("ey-2")),
                                   ("bazhou", Urls.url("bz-day")), ("bazhou", Urls.url("bz-2"))]
    assert len(statements) == 1, statements


def test_a_wrong_row_refuses_the_whole_file_naming_its_row_and_nothing_is_written(database_url):
    with_liaisons(database_url)
    with session_scope(database_url) as s:
        roster.import_roster(s, filename="old.csv", content="日期,开始时间,结束时间,单位,值班人员\n"
                             "2026-12-01,00:00,08:00,市值班室,duty\n".encode("gb18030"), actor="super")
        for rows, said in WRONG_FILES:
            content = "\n".join(",".join(str(c) for c in row) for row in [HEADER[:5], *rows]).encode("utf-8-sig")
            with pytest.raises(roster.RosterRefused) as refused:
                roster.import_roster(s, filename="值班表.csv", content=content, actor="super")
            assert said in refused.value.message
            assert refused.value.field == "file"
            # The good rows of the refused file are not there either; the earlier roster is untouched.
            assert [(sh.party_code, sh.starts_at.astimezone(SHANGHAI).hour)
                    for sh in s.exec(select(DutyShift)).all()] == [(None, 0)]


async def test_a_breach_to_a_party_reaches_its_liaison_on_duty_and_not_the_one_off_duty(
        database_url, notify_config, receiver):
    init_db(database_url)
    with_liaisons(database_url, receiver)
    now = datetime.now(UTC)
    with session_scope(database_url) as s:
        users = {u.username: u.id for u in s.exec(select(User)).all()}
        s.add(DutyShift(party_code="bazhou", user_id=users["bz-night"], starts_at=now - timedelta(hours=2),
                        ends_at=now + timedelta(hours=6)))
        s.add(DutyShift(party_code="bazhou", user_id=users["bz-day"], starts_at=now + timedelta(hours=6),
                        ends_at=now + timedelta(hours=15)))
        incident = add_incident(s, party="bazhou", level="II", detected_at=now - timedelta(hours=3),
                                milestones={"acknowledge": "overdue"}, status="open")
    notifier = Notifier(load_channels(notify_config), database_url)
    breach = Deliver(dedupe_key=f"{incident.workflow_id}/acknowledge/g1/breach", incident_id=incident.id or 0,
                     human_id=incident.human_id, title="暴雨致城区内涝", level="II", party_name="巴州区人民政府",
                     kind="breach", tags=["bazhou", "bazhou-leaders", "supervisor"], milestone="acknowledge",
                     milestone_label="责任单位签收", due_at=now - timedelta(hours=2), link="http://desk.test/x")

    delivered = await ActivityEnvironment().run(notifier.deliver, breach)

    assert [m.title for m in receiver.tagged("bz-night")] == [f"【超时督办】{incident.human_id} 暴雨致城区内涝"]
    assert receiver.tagged("bz-day") == []
    assert len(receiver.tagged("bazhou")) == 1  # the party's own channel as before
    personal = [r for r in delivered.results if "bz-night" in r.channel]
    assert [r.status for r in personal] == ["delivered"]  # its own row in the attempt log the workflow writes
    # Retried (the activity ran again, its first report lost): the ledger has it, the liaison is not sent it
    # twice, and the delivery is reported as the ledger holds it.
    again = await ActivityEnvironment().run(notifier.deliver, breach)
    assert len(receiver.tagged("bz-night")) == 1 and {r.status for r in again.results} == {"delivered"}
    with session_scope(database_url) as s:
        ledger = s.exec(select(NotificationDelivery.channel_id)).all()
    assert len(ledger) == 4  # three tags' channels and the liaison's own


def test_a_persons_own_url_set_from_the_command_line_is_their_on_duty_channel_on_the_admin_page(
        database_url, monkeypatch, receiver):
    """One place for a person's URL: `opinion-desk user notify` writes the same channel the admin page shows
    (值班时本人接收), replacing the old one; --clear removes it."""
    from typer.testing import CliRunner

    from desk.cli import app
    from desk.models import NotificationChannel
    from desk.settings import get_settings

    init_db(database_url)
    with_liaisons(database_url)
    monkeypatch.setenv("DESK_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        def own() -> list[tuple[str, str, str]]:
            with session_scope(database_url) as s:
                return [(c.audience, c.tag, c.url) for c in s.exec(select(NotificationChannel).join(
                    User, User.id == NotificationChannel.user_id).where(User.username == "bz-night")).all()]

        for url in (receiver.url("old"), receiver.url("bz-night")):
            done = CliRunner().invoke(app, ["user", "notify", "bz-night"], input=url + "\n")
            assert done.exit_code == 0, done.output
        assert own() == [("on_duty", "bazhou-on-duty", receiver.url("bz-night"))]
        bad = CliRunner().invoke(app, ["user", "notify", "bz-night"], input="not-a-url\n")
        assert bad.exit_code != 0 and "apprise" in bad.output and own() != []  # refused, the old one kept
        done = CliRunner().invoke(app, ["user", "notify", "bz-night", "--clear"])
        assert done.exit_code == 0 and own() == []
    finally:
        get_settings.cache_clear()
