"""The period of an assessment: calendar days in Asia/Shanghai, both ends included, and its months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from desk.timefmt import SHANGHAI


@dataclass(frozen=True)
class Period:
    """Calendar days in Asia/Shanghai, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("结束日期不能早于开始日期")

    @property
    def utc_start(self) -> datetime:
        return datetime.combine(self.start, time(), SHANGHAI).astimezone(UTC)

    @property
    def utc_end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)

    @classmethod
    def year_to_date(cls, now: datetime | None = None) -> Period:
        today = (now or datetime.now(UTC)).astimezone(SHANGHAI).date()
        return cls(date(today.year, 1, 1), today)

    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
