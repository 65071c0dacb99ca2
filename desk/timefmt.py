"""Beijing time (Asia/Shanghai): the zone, and UTC times read from SQL and written as Beijing wall-clock text.

Shared by the assessment export (desk/stats/export.py) and the supervisor board (desk/board.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, func, type_coerce
from sqlalchemy.sql.elements import ColumnElement

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
    return local_text(value.replace(tzinfo=timezone.utc))


def local_text(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
