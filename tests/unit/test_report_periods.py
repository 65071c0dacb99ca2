"""A scheduled report covers the last whole week or month before it runs, in Beijing calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from desk.periods import previous_period


def test_the_monday_summary_covers_the_week_before_and_the_first_of_the_month_the_month_before():
    monday_0830_beijing = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    week = previous_period("weekly", monday_0830_beijing)
    assert (week.start, week.end, week.code) == (date(2026, 11, 23), date(2026, 11, 29), "2026-W48")
    first_0830_beijing = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    month = previous_period("monthly", first_0830_beijing)
    assert (month.start, month.end, month.code, month.name) == (date(2025, 12, 1), date(2025, 12, 31), "2025-12",
                                                                "2025年12月")
    # 23:30 UTC on Sunday is already Monday in Beijing
    assert previous_period("weekly", datetime(2026, 11, 29, 23, 30, tzinfo=UTC)).code == "2026-W48"
