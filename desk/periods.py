"""The period a scheduled report covers, from the moment it runs: pure arithmetic on Beijing calendar days.

A weekly summary run on any day covers the last whole week before it (Monday to Sunday); a monthly 通报 the
last whole month. The report workflow calls this with ``workflow.now()``; tests call it with any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from desk.vocab import SHANGHAI, ReportKind


@dataclass(frozen=True)
class CoveredPeriod:
    code: str  # 2026-W48 (ISO week) / 2026-11
    name: str  # 2026年第48周（11月23日至29日） / 2026年11月
    start: date  # first and last Beijing calendar day, both included
    end: date


def previous_period(kind: str, at: datetime) -> CoveredPeriod:
    """The last whole week (``weekly``) or month (``monthly``) before ``at`` (an aware datetime)."""
    today = at.astimezone(SHANGHAI).date()
    if kind == ReportKind.weekly:
        start = today - timedelta(days=today.weekday() + 7)
        end = start + timedelta(days=6)
        year, week, _ = start.isocalendar()
        return CoveredPeriod(f"{year}-W{week:02d}", f"{year}年第{week}周（{start.month}月{start.day}日至"
                                                    f"{end.month}月{end.day}日）", start, end)
    if kind == ReportKind.monthly:
        end = today.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
        return CoveredPeriod(f"{start.year}-{start.month:02d}", f"{start.year}年{start.month}月", start, end)
    raise ValueError(f"unknown report kind: {kind!r}")
