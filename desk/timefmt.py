"""Beijing time (Asia/Shanghai): the zone, and UTC times read from SQL and written as Beijing wall-clock text.

Shared by the assessment export (desk/stats/export.py) and the supervisor board (desk/board.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, func, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from desk.vocab import SHANGHAI  # the one time zone, defined with the rest of the vocabulary

DAYS_FROM = 72 * 3600  # durations say days only from three days on: under that the policy speaks in hours
UNITS = ("d", "h", "min", "s")
ZH_UNITS = {"d": "天", "h": "小时", "min": "分", "s": "秒"}


def duration_parts(seconds: float) -> list[tuple[int, str]]:
    """The one duration rule (pages, messages, CSV, reports; desk.js writes the same for countdowns): the
    largest unit and the next one if not zero: 48小时 / 49小时30分 / 5天3小时 / 9小时 / 5分30秒."""
    total = int(abs(seconds))
    days = total // 86400 if total >= DAYS_FROM else 0
    values = (days, (total - days * 86400) // 3600, total % 3600 // 60, total % 60)
    first = next((i for i, n in enumerate(values) if n), 3)
    parts = [(values[first], UNITS[first])]
    if first < 3 and values[first + 1]:
        parts.append((values[first + 1], UNITS[first + 1]))
    return parts


def duration_zh(seconds: float) -> str:
    """A duration in Chinese words, for messages and exports (the pages translate the same parts)."""
    return "".join(f"{n}{ZH_UNITS[unit]}" for n, unit in duration_parts(seconds))


def naive_utc(dialect: str, column) -> ColumnElement:
    """A UTC time read without its zone (the detail export, the board): cheaper to read and format per row."""
    if dialect == "sqlite":
        return type_coerce(column, DateTime())  # stored as naive UTC text already
    return func.timezone("UTC", column, type_=DateTime())


# Asia/Shanghai has been UTC+8 all year since its last daylight-saving change (tzdata: 1991-09-15 02:00 local):
# later times are shifted by eight hours, earlier ones go through the zone rules.
_FIXED_OFFSET_SINCE = datetime(1991, 9, 14, 17)  # naive UTC
_EIGHT_HOURS = timedelta(hours=8)


def local_naive(value: datetime | None) -> str:
    """A naive UTC time as Beijing wall-clock text, "YYYY-MM-DD HH:MM:SS"."""
    if value is None:
        return ""
    if value >= _FIXED_OFFSET_SINCE:
        return (value + _EIGHT_HOURS).isoformat(" ", "seconds")
    return local_text(value.replace(tzinfo=UTC))


def local_text(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
