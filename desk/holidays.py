"""The official holiday schedule the working-day deadlines count with (desk.workdays).

The chinese-calendar package carries the State Council's yearly notices (holidays and the weekend days worked
to make up for them). A year it does not know yet, or one to correct, goes into a local TOML file named by
DESK_HOLIDAYS; a year there replaces the package's for that year::

    [2027]
    holidays = ["2027-01-01", "2027-02-06", ...]   # days off that fall on a weekday (weekend ones may be listed)
    workdays = ["2027-02-20"]                      # weekend days that are worked (调休上班)
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import chinese_calendar

from desk.policy import Policy, PolicyError, load_policy
from desk.workdays import WorkCalendar


class HolidayFileError(PolicyError):
    """The DESK_HOLIDAYS file cannot be used; the message names the file and the entry to fix."""


def configured_policy(name_or_path: str | Path, holidays: Path | None) -> Policy:
    """The policy as the desk runs it (DESK_POLICY, DESK_DRILL_POLICY), with the holiday schedule its
    working-day deadlines count with (DESK_HOLIDAYS). Raises PolicyError (HolidayFileError) naming what to fix."""
    return load_policy(name_or_path, calendar=official_calendar(holidays))


def official_calendar(override: Path | None = None) -> WorkCalendar:
    """Every year the package knows, with the override file's years laid over them."""
    years: dict[int, tuple[set[date], set[date]]] = {}
    first, last = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
    for year in range(first, last + 1):
        years[year] = ({d for d in chinese_calendar.holidays if d.year == year},
                       {d for d in chinese_calendar.workdays if d.year == year})
    if override is not None:
        years.update(_read_override(override))
    return WorkCalendar(
        years=sorted(years),
        holidays=sorted(d.isoformat() for holidays, _ in years.values() for d in holidays),
        workdays=sorted(d.isoformat() for _, workdays in years.values() for d in workdays),
    )


def _read_override(path: Path) -> dict[int, tuple[set[date], set[date]]]:
    where = f"DESK_HOLIDAYS ({path})"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HolidayFileError(f"{where}: cannot read the file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HolidayFileError(f"{where}: not valid TOML: {exc}") from None
    years: dict[int, tuple[set[date], set[date]]] = {}
    for key, table in data.items():
        if not key.isdigit() or not isinstance(table, dict):
            raise HolidayFileError(f"{where}: '{key}' is not a year table; write [2027] with holidays and workdays")
        year = int(key)
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise HolidayFileError(f"{where}: [{year}] {', '.join(sorted(unknown))}: unknown key; "
                                   f"expected holidays and workdays")
        holidays = _dates(table.get("holidays", []), year, f"{where}: [{year}] holidays")
        workdays = _dates(table.get("workdays", []), year, f"{where}: [{year}] workdays")
        both = holidays & workdays
        if both:
            raise HolidayFileError(f"{where}: [{year}] {', '.join(sorted(d.isoformat() for d in both))} "
                                   f"is listed both as a holiday and as a working day")
        years[year] = (holidays, workdays)
    return years


def _dates(values: object, year: int, where: str) -> set[date]:
    if not isinstance(values, list):
        raise HolidayFileError(f"{where}: must be a list of dates like \"{year}-10-01\"")
    days: set[date] = set()
    for value in values:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise HolidayFileError(f"{where}: '{value}' is not a date like \"{year}-10-01\"") from None
        if day.year != year:
            raise HolidayFileError(f"{where}: {day.isoformat()} is not in {year}")
        days.add(day)
    return days
