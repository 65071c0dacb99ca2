"""The supervisor board: what needs attention first, the counts above it, filters, drills, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.board import BoardFilters, board
from desk.db import init_db, session_scope
from tests.helpers import add_incident

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # noon in Beijing: "today" is unambiguous


def ago(**kw) -> datetime:
    return NOW - timedelta(**kw)


@pytest.fixture
def open_incidents(database_url):
    init_db(database_url)
    with session_scope(database_url) as s:
        add_incident(s, party="enyang", level="IV", status="open", title="临近签收时限", detected_at=ago(minutes=50),
                     next_due_at=ago(minutes=50) + timedelta(hours=1),
                     milestones={"acknowledge": "pending", "first_release": "pending"})
        add_incident(s, party="bazhou", level="II", status="open", title="发布已超期", category="public_health",
                     detected_at=ago(hours=50), next_due_at=ago(hours=2), overdue=True,
                     milestones={"acknowledge": ("met", 0.5), "first_release": "overdue"},
                     events=[("reminder_sent", ago(hours=26)), ("reminder_sent", ago(hours=14)),
                             ("escalated", ago(hours=2)), ("escalation_repeated", ago(minutes=1))])
        add_incident(s, party="bazhou", level="III", status="open", title="刚签收", detected_at=ago(hours=1),
                     next_due_at=ago(hours=1) + timedelta(hours=48),
                     milestones={"acknowledge": ("met", 0.5), "first_release": "pending"})
        add_incident(s, party="bazhou", level="IV", status="open", title="演练：燃气泄漏", drill=True,
                     detected_at=ago(minutes=3), next_due_at=ago(minutes=3) + timedelta(minutes=5),
                     milestones={"acknowledge": "pending"})
        add_incident(s, party="bazhou", level="IV", status="closed", title="已结案", detected_at=ago(hours=3),
                     milestones={"acknowledge": ("met", 0.1), "first_release": ("met", 2.5)})
    return database_url


def titles(result) -> list[str]:
    return [r["title"] for r in result["rows"]]


def test_overdue_then_at_risk_then_on_track_with_counts(open_incidents):
    with session_scope(open_incidents) as s:
        result = board(s, now=NOW)
    assert titles(result) == ["发布已超期", "临近签收时限", "刚签收"]  # no drill, nothing closed
    overdue, at_risk, fine = result["rows"]
    assert (overdue["status"], at_risk["status"], fine["status"]) == ("overdue", "at_risk", "on_track")
    assert overdue["next_milestone"]["key"] == "first_release"
    assert overdue["next_milestone"]["seconds_left"] == -2 * 3600
    assert at_risk["next_milestone"]["seconds_left"] == 10 * 60  # 10 of 60 minutes left: in the last quarter
    assert (overdue["reminders"], overdue["escalations"], overdue["failures"]) == (2, 2, 0)
    assert overdue["party_name"] == "巴州区人民政府" and overdue["level_label"] == "重大"
    counts = result["counts"]
    assert (counts["open"], counts["overdue"], counts["at_risk"], counts["on_track"]) == (3, 1, 1, 1)
    assert counts["met_today"] == 3  # the closed one's two milestones and one acknowledgement; not 2 days ago


def test_filters_and_drills(open_incidents):
    with session_scope(open_incidents) as s:
        assert titles(board(s, BoardFilters(party="bazhou"), now=NOW)) == ["发布已超期", "刚签收"]
        assert titles(board(s, BoardFilters(level="IV"), now=NOW)) == ["临近签收时限"]
        assert titles(board(s, BoardFilters(category="public_health"), now=NOW)) == ["发布已超期"]
        only_at_risk = board(s, BoardFilters(status="at_risk"), now=NOW)
        assert titles(only_at_risk) == ["临近签收时限"]
        assert only_at_risk["counts"]["open"] == 3  # the counts keep showing the whole picture
        with_drills = board(s, BoardFilters(drills=True), now=NOW)
    # the drill (2 of its 5 minutes left) is on track: after the at-risk one, before the later deadline
    assert titles(with_drills) == ["发布已超期", "临近签收时限", "演练：燃气泄漏", "刚签收"]
    assert [r["drill"] for r in with_drills["rows"]] == [False, False, True, False]


async def test_board_api_roles_and_filters(desk):
    with session_scope(desk.database_url) as s:
        add_incident(s, party="enyang", level="IV", status="open", title="恩阳事件", detected_at=ago(minutes=5),
                     next_due_at=ago(minutes=5) + timedelta(hours=1), milestones={"acknowledge": "pending"})
    for who, code in (("super", 200), ("admin", 200), ("duty", 200), ("bazhou", 403)):
        r = await desk.http.get("/api/board", headers=desk.auth(who))
        assert r.status_code == code, (who, r.text)
    assert (await desk.http.get("/api/board")).status_code == 401
    r = await desk.http.get("/api/board", params={"party": "enyang", "level": "IV"}, headers=desk.auth("duty"))
    assert [row["title"] for row in r.json()["rows"]] == ["恩阳事件"]
    r = await desk.http.get("/api/board", params={"status": "sideways"}, headers=desk.auth("super"))
    assert r.status_code == 422


async def test_an_incident_opened_through_the_api_appears_on_the_board(desk):
    r = await desk.open(title="新开事件出现在看板", level="II")
    assert r.status_code == 201, r.text
    rows = (await desk.http.get("/api/board", headers=desk.auth("super"))).json()["rows"]
    row = next(x for x in rows if x["id"] == r.json()["id"])
    assert row["next_milestone"]["key"] == "acknowledge"
    assert 0 < row["next_milestone"]["seconds_left"] <= 3600


def test_a_page_of_rows_keeps_the_order_and_the_whole_counts(open_incidents):
    with session_scope(open_incidents) as s:
        page = board(s, BoardFilters(limit=2), now=NOW)
        everything = board(s, now=NOW)
        on_track = board(s, BoardFilters(status="on_track", limit=1), now=NOW)
    assert titles(page) == ["发布已超期", "临近签收时限"] and page["truncated"] is True
    assert (page["matching"], on_track["matching"]) == (3, 1)
    assert page["counts"] == everything["counts"]  # the counts cover every open incident, not just the page
    assert everything["truncated"] is False
    assert titles(on_track) == ["刚签收"] and on_track["truncated"] is False  # the one on-track incident


def test_at_risk_from_the_last_quarter_and_no_deadline_last(database_url):
    init_db(database_url)
    window = timedelta(hours=1)
    with session_scope(database_url) as s:
        for title, left in (("剩余14分59秒", timedelta(minutes=14, seconds=59)),
                            ("剩余15分01秒", timedelta(minutes=15, seconds=1))):
            add_incident(s, party="enyang", level="IV", status="open", title=title, detected_at=NOW + left - window,
                         next_due_at=NOW + left, milestones={"acknowledge": "pending"})
        add_incident(s, party="enyang", level="IV", status="open", title="时限均已完成", detected_at=ago(hours=3),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 2)})
    with session_scope(database_url) as s:
        result = board(s, now=NOW)
    assert [(r["title"], r["status"]) for r in result["rows"]] == [
        ("剩余14分59秒", "at_risk"), ("剩余15分01秒", "on_track"), ("时限均已完成", "on_track")]
    assert result["rows"][2]["next_milestone"] is None
    assert result["rows"][0]["next_milestone"]["seconds_left"] == 14 * 60 + 59
    assert (result["counts"]["at_risk"], result["counts"]["on_track"]) == (1, 2)


def test_at_risk_comes_before_an_earlier_deadline_that_is_on_track(database_url):
    """The nearest deadline alone would list the acknowledgement first; the one at risk needs attention first."""
    init_db(database_url)
    with session_scope(database_url) as s:
        add_incident(s, party="enyang", level="IV", status="open", title="签收还剩50分钟", detected_at=ago(minutes=10),
                     next_due_at=NOW + timedelta(minutes=50), milestones={"acknowledge": "pending"})
        add_incident(s, party="bazhou", level="IV", status="open", title="无待办时限", detected_at=ago(hours=5),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 4)})
        add_incident(s, party="bazhou", level="III", status="open", title="发布还剩10小时", detected_at=ago(hours=38),
                     next_due_at=NOW + timedelta(hours=10),
                     milestones={"acknowledge": ("met", 0.5), "first_release": "pending"})
        add_incident(s, party="enyang", level="III", status="open", title="发布还剩30小时", detected_at=ago(hours=18),
                     next_due_at=NOW + timedelta(hours=30),
                     milestones={"acknowledge": ("met", 0.5), "first_release": "pending"})
        add_incident(s, party="enyang", level="II", status="open", title="签收已超期", detected_at=ago(hours=2),
                     next_due_at=ago(hours=1), overdue=True, milestones={"acknowledge": "overdue"})
    with session_scope(database_url) as s:
        result = board(s, now=NOW)
        first_two = board(s, BoardFilters(limit=2), now=NOW)
    assert [(r["title"], r["status"]) for r in result["rows"]] == [
        ("签收已超期", "overdue"), ("发布还剩10小时", "at_risk"), ("签收还剩50分钟", "on_track"),
        ("发布还剩30小时", "on_track"), ("无待办时限", "on_track")]
    # a page that cannot show everything keeps the ones that need attention most
    assert titles(first_two) == ["签收已超期", "发布还剩10小时"]
    assert (first_two["truncated"], first_two["matching"]) == (True, 5)


def test_open_and_overdue_tasks_show_on_their_incidents_row(database_url):
    from desk.models import IncidentTask

    init_db(database_url)
    now = datetime.now(UTC)
    with session_scope(database_url) as s:
        incident = add_incident(s, party="bazhou", level="III", status="open", detected_at=now - timedelta(hours=2),
                                next_due_at=now + timedelta(hours=40), milestones={"first_release": "pending"})
        for n, (due, state) in enumerate(((-1, "pending"), (3, "pending"), (-5, "met")), 1):
            s.add(IncidentTask(incident_id=incident.id, n=n, party_code="enyang", text="核实", state=state,
                               assigned_at=now - timedelta(hours=6), due_at=now + timedelta(hours=due)))
        s.commit()
        row = board(s, BoardFilters())["rows"][0]
    assert (row["tasks_open"], row["tasks_overdue"]) == (2, 1)  # the one done is not counted
