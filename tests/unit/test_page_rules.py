"""The rules the pages share: one duration rule, one status rule, deadlines listed in the order they fall due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.web.views import policy_offsets, span
from desk import clocks as clk
from desk.policy import load_policy
from desk.timefmt import duration_zh

H = 3600


def zh(message: str, **values) -> str:
    words = {"%(n)sd": "%(n)s天", "%(n)sh": "%(n)s小时", "%(n)smin": "%(n)s分", "%(n)ss": "%(n)s秒"}
    return words.get(message, message) % values


def test_durations_say_hours_until_three_days_as_the_policy_does():
    assert [duration_zh(s) for s in (48 * H, 49.5 * H, 24 * H, 9 * H, 9 * H + 30, 330, 5 * 86400 + 3 * H)] == [
        "48小时", "49小时30分", "24小时", "9小时", "9小时", "5分30秒", "5天3小时"]
    assert span(48 * H, zh, "zh") == duration_zh(48 * H)  # the pages and the messages say the same


def test_at_risk_is_the_last_quarter_of_the_window_everywhere():
    start = datetime(2026, 11, 30, tzinfo=UTC)
    assert clk.at_risk_from(start, start + timedelta(hours=48)) == start + timedelta(hours=36)


def test_the_deadline_preview_lists_deadlines_in_the_order_they_fall_due():
    levels = policy_offsets(load_policy("bazhong"), lambda m, **v: m, datetime(2026, 11, 30, tzinfo=UTC))["levels"]
    assert [row["key"] for row in levels["I"]] == ["acknowledge", "press_conference", "first_release"]
    assert all([r["seconds"] for r in rows] == sorted(r["seconds"] for r in rows) for rows in levels.values())
