"""Working-day deadlines (desk.workdays, desk.holidays): counted with the official holidays and make-up working
days, across the Spring Festival and National Day weeks of 2026; unknown years refused with a sentence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from api.web.views import policy_offsets
from desk import clocks as clk
from desk.errors import InvalidInput
from desk.holidays import HolidayFileError, official_calendar
from desk.policy import PolicyError, policy_from_dict
from desk.service import incident_policy
from desk.vocab import SHANGHAI
from desk.workdays import UnknownYear, WorkCalendar, add_working_days, is_working_day

CALENDAR = official_calendar()


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def due(start: str, n: int, calendar: WorkCalendar = CALENDAR) -> str:
    return add_working_days(bj(start), n, calendar).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def test_the_table_says_what_chinese_calendar_says_for_every_day_of_2026():
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert is_working_day(day, CALENDAR) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_the_2026_spring_festival_is_nine_days_off_between_two_worked_saturdays():
    off = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # 15 (Sunday) .. 23 (Monday)
    assert not any(is_working_day(d, CALENDAR) for d in off)
    assert is_working_day(date(2026, 2, 14), CALENDAR)  # Saturday, worked
    assert is_working_day(date(2026, 2, 28), CALENDAR)  # Saturday, worked
    assert not is_working_day(date(2026, 3, 1), CALENDAR)  # an ordinary Sunday


def test_working_days_before_the_spring_festival_jump_the_holiday_at_the_same_time_of_day():
    assert due("2026-02-12 10:00", 1) == "2026-02-13 10:00"
    assert due("2026-02-13 10:00", 1) == "2026-02-14 10:00"  # the worked Saturday counts
    assert due("2026-02-13 10:00", 2) == "2026-02-24 10:00"  # then nothing until Tuesday after the holiday
    assert due("2026-02-13 10:00", 3) == "2026-02-25 10:00"


def test_detected_during_the_holiday_the_count_starts_on_the_first_working_day():
    # From 00:00 of Tuesday 24 February: three whole working days end at 24:00 on Thursday 26.
    assert due("2026-02-17 15:00", 3) == "2026-02-27 00:00"
    assert due("2026-02-21 01:00", 3) == "2026-02-27 00:00"
    # 24, 25, 26, 27 and the worked Saturday 28
    assert due("2026-02-17 15:00", 5) == "2026-03-01 00:00"


def test_working_days_across_the_mid_autumn_and_national_day_holidays():
    assert due("2026-09-18 16:30", 1) == "2026-09-20 16:30"  # Sunday 20 September is worked
    assert due("2026-09-24 09:00", 1) == "2026-09-28 09:00"  # 中秋 25-27 September
    assert due("2026-09-30 10:00", 1) == "2026-10-08 10:00"  # 国庆 1-7 October
    assert due("2026-09-30 10:00", 3) == "2026-10-10 10:00"  # Saturday 10 October is worked
    assert due("2026-10-03 10:00", 1) == "2026-10-09 00:00"  # detected in the holiday: the end of 8 October


def test_a_later_detection_never_gets_an_earlier_deadline():
    for n in (1, 3, 5):
        start, previous = bj("2026-02-10 00:00"), None
        while start < bj("2026-03-03 00:00"):
            deadline = add_working_days(start, n, CALENDAR)
            assert deadline > start
            assert previous is None or deadline >= previous, (start, n)
            previous, start = deadline, start + timedelta(minutes=90)


def test_a_deadline_in_a_year_the_calendar_does_not_know_is_refused_with_what_to_do():
    with pytest.raises(UnknownYear) as err:
        add_working_days(bj("2026-12-30 10:00"), 3, CALENDAR)
    assert err.value.year == 2027
    assert "2027" in str(err.value) and "DESK_HOLIDAYS" in str(err.value) and "chinese-calendar" in str(err.value)
    assert due("2026-12-30 10:00", 1) == "2026-12-31 10:00"  # still in 2026: counted


def test_the_override_file_gives_a_year_the_package_does_not_know(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text('[2027]\nholidays = ["2027-01-01"]\nworkdays = [2027-01-02]\n', encoding="utf-8")
    calendar = official_calendar(path)
    assert 2027 in calendar.years and "2027-01-02" in calendar.workdays
    # Thursday 31 December, Friday 1 January off, Saturday 2 January worked (as the file says), then Monday 4
    assert due("2026-12-30 10:00", 3, calendar) == "2027-01-04 10:00"


@pytest.mark.parametrize("text, message", [
    ('[2027]\nholidays = ["2027-02-30"]\n', "'2027-02-30' is not a date"),
    ('[2027]\nholidays = ["2028-01-01"]\n', "2028-01-01 is not in 2027"),
    ('[2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-01"]\n', "both as a holiday and as a working day"),
    ('[2027]\nholiday = ["2027-01-01"]\n', "holiday: unknown key"),
    ('holidays = ["2027-01-01"]\n', "is not a year table"),
    ("[2027\n", "not valid TOML"),
])
def test_a_broken_override_file_is_refused_naming_the_file_and_entry(tmp_path, text, message):
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidayFileError, match="DESK_HOLIDAYS") as err:
        official_calendar(path)
    assert message in str(err.value)


def _policy(due, **more):
    return policy_from_dict({"name": "工作日", "milestones": [{"key": "acknowledge", "due": "1h"},
                                                            {"key": "first_release", "due": due}], **more},
                            calendar=CALENDAR)


def test_a_policy_gives_due_in_working_days_for_all_levels_or_per_level():
    policy = _policy("3wd")
    assert policy.rule("first_release").due_working_days == {"I": 3, "II": 3, "III": 3, "IV": 3}
    assert policy.calendar is CALENDAR and policy.uses_working_days
    mixed = _policy({"I": "24h", "II": "2wd", "III": "3 WD", "IV": "72h"})
    assert mixed.rule("first_release").due_seconds == {"I": 86400, "IV": 259200}
    assert mixed.rule("first_release").due_working_days == {"II": 2, "III": 3}
    # A policy without working days carries no calendar in its snapshot.
    assert policy_from_dict({"name": "x", "milestones": [{"key": "acknowledge", "due": "1h"}]},
                            calendar=CALENDAR).calendar is None


@pytest.mark.parametrize("doc, message", [
    ({"due": "1h3wd"}, "milestones[1].due: '1h3wd' mixes working days with other units"),
    ({"due": "0wd"}, "milestones[1].due: '0wd' must be at least one working day"),
    ({"due": {"I": "3wd", "II": "2.5wd", "III": "1h", "IV": "1h"}}, "milestones[1].due.II: '2.5wd'"),
    ({"due": "3wd", "follow_up": {"every": "1wd"}}, "follow_up.every: '1wd': working days ('3wd') are allowed only"),
])
def test_working_days_written_wrong_are_refused_naming_the_key(doc, message):
    due = doc.pop("due")
    with pytest.raises(PolicyError) as err:
        _policy(due, **doc)
    assert str(err.value).startswith(message)


def test_working_days_without_a_calendar_are_refused():
    with pytest.raises(PolicyError, match="milestones\\[0\\].due: working days need the official holiday calendar"):
        policy_from_dict({"name": "x", "milestones": [{"key": "acknowledge", "due": "2wd"}]})


def test_clocks_and_level_changes_count_working_days_from_detection():
    policy = _policy({"I": "24h", "II": "1wd", "III": "3wd", "IV": "3wd"})
    detected = bj("2026-02-13 10:00")
    assert clk.deadlines(policy, "III", detected)["first_release"] == bj("2026-02-25 10:00")
    clocks = clk.open_clocks(policy, "III", detected, detected)
    changed, _, _ = clk.change_level(clocks, policy, "II", detected, detected + timedelta(hours=1))
    release = next(c for c in changed if c.key == "first_release")
    assert release.due_at == bj("2026-02-14 10:00") and release.generation == 2


def test_an_incident_snapshot_keeps_the_years_from_its_detection_and_refuses_unknown_ones():
    policy = _policy("3wd")
    snapshot = incident_policy(policy, bj("2026-02-13 10:00"))
    assert snapshot.calendar is not None and snapshot.calendar.years == [2026]
    assert all(d.startswith("2026-") for d in snapshot.calendar.holidays + snapshot.calendar.workdays)
    with pytest.raises(InvalidInput) as err:
        incident_policy(policy, bj("2026-12-30 10:00"))
    assert err.value.code == "holidays.unknown_year" and err.value.field == "detected_at"
    assert err.value.params == {"year": 2027} and "DESK_HOLIDAYS" in err.value.message


def test_the_preview_gives_working_day_rows_their_due_time_counted_on_the_server():
    policy = _policy("3wd")
    rows = policy_offsets(policy, lambda m, **v: m, bj("2026-02-13 10:00"))["levels"]["II"]
    assert [r["key"] for r in rows] == ["acknowledge", "first_release"]
    assert rows[0]["seconds"] == 3600
    assert rows[1]["working_days"] == 3 and rows[1]["due"] == int(bj("2026-02-25 10:00").timestamp() * 1000)
    late = policy_offsets(policy, lambda m, **v: m, bj("2026-12-30 10:00"))["levels"]["II"]
    assert late[1]["due"] is None  # 2027 unknown: the form says "counted when opened", opening says why not
