"""Working-day deadlines: pure arithmetic over a table of the official holiday schedule.

A policy may give a deadline in working days (``due = "3wd"``). Working days are the official ones of the
State Council's yearly notice: Monday to Friday except the public holidays, plus the weekend days that are
worked to make up for a holiday (调休上班). The table (:class:`WorkCalendar`) travels in the policy snapshot,
so the workflow counts without importing anything and a replay counts the same days; desk.holidays builds it
from the chinese-calendar package and the local override file (DESK_HOLIDAYS).

The rule (:func:`add_working_days`): n working days after the start is the first instant at which n whole
days of working-day time (Beijing) have passed since the start. So detected on a working day at 14:00, the
deadline is 14:00 on the n-th working day after that day; detected on a weekend or a holiday (or at 00:00),
counting starts at 00:00 of the next working day, and the deadline is the end (24:00, shown as 00:00 of the
next day) of the n-th working day counted from there. A later detection never gets an earlier deadline.
"""

# Annotations stay real objects (no `from __future__ import annotations`): Temporal's workflow sandbox
# cannot resolve string annotations of these dataclasses when it decodes a continued run's input.

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from desk.vocab import SHANGHAI


class UnknownYear(ValueError):
    """A working-day deadline would fall in a year whose holiday schedule the desk does not know."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"{year} 年的法定节假日和调休安排尚未知，无法按工作日计算时限：请更新 chinese-calendar，"
            f"或在 DESK_HOLIDAYS 指定的文件中写入 [{year}] 的 holidays 和 workdays / The official holiday "
            f"schedule for {year} is not known yet: upgrade chinese-calendar, or add a [{year}] table "
            f"(holidays = [...], workdays = [...]) to the file DESK_HOLIDAYS names.")


@dataclass(frozen=True)
class WorkCalendar:
    """The official schedule of some years. Dates are ISO strings (plain JSON in the workflow's input)."""

    years: list[int] = field(default_factory=list)  # the years this table knows, whole
    holidays: list[str] = field(default_factory=list)  # days off that would otherwise be worked (or not)
    workdays: list[str] = field(default_factory=list)  # weekend days worked to make up for a holiday

    def since(self, year: int) -> "WorkCalendar":
        """The part from ``year`` on: an incident's deadlines never fall before its detection."""
        return WorkCalendar(years=[y for y in self.years if y >= year],
                            holidays=[d for d in self.holidays if int(d[:4]) >= year],
                            workdays=[d for d in self.workdays if int(d[:4]) >= year])


class _Days:
    """The table as sets, for counting (built per call: the workflow keeps no module state)."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.years = set(calendar.years)
        self.holidays = {date.fromisoformat(d) for d in calendar.holidays}
        self.workdays = {date.fromisoformat(d) for d in calendar.workdays}

    def is_working(self, day: date) -> bool:
        if day.year not in self.years:
            raise UnknownYear(day.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def is_working_day(day: date, calendar: WorkCalendar) -> bool:
    """Whether people work on ``day`` (a Beijing date); raises UnknownYear outside the table's years."""
    return _Days(calendar).is_working(day)


def add_working_days(start: datetime, n: int, calendar: WorkCalendar) -> datetime:
    """The deadline n working days after ``start`` (aware), in UTC; the rule is the module's docstring.

    Raises UnknownYear when a day the count passes lies in a year the table does not know.
    """
    if n <= 0:
        raise ValueError("n must be at least one working day")
    days = _Days(calendar)
    at = start.astimezone(SHANGHAI)
    remaining = timedelta(days=n)
    while True:
        next_midnight = datetime.combine(at.date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
        if days.is_working(at.date()):
            available = next_midnight - at
            if remaining <= available:
                return (at + remaining).astimezone(UTC)
            remaining -= available
        at = next_midnight
