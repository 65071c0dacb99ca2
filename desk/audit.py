"""The audit log: every admin action and every login, append-only, with a page and a CSV export.

``record`` adds a row to the caller's session: an admin action commits it together with the change it
records (both or neither), a login commits it alone. No function here, or anywhere, updates or deletes a
row; the database refuses it too (migration 0008). ``detail`` never holds a secret: no password, no
channel URL (its masked form at most).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from desk.models import AuditEntry
from desk.stats.export import to_csv
from desk.timefmt import SHANGHAI
from desk.vocab import AuditAction

CLI = "opinion-desk"  # the actor of what the command line did (whoever ran it on the server)
PAGE_SIZE = 100


def record(session: Session, *, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None,
           address: str = "") -> AuditEntry:
    """Add one audit row to ``session`` (the caller commits, with the change it records)."""
    entry = AuditEntry(actor=(actor or "")[:64], action=AuditAction(action), target=(target or "")[:200],
                       detail=dict(detail or {}), address=(address or "")[:64])
    session.add(entry)
    return entry


def record_login(database_url: str | None, *, username: str, action: str, address: str) -> None:
    """A login attempt's outcome (success, failure, lockout), in a transaction of its own."""
    from desk.db import session_scope

    with session_scope(database_url) as session:
        record(session, actor=username, action=action, address=address)
        session.commit()


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None  # one action, or a family: "login", "user", "party", "channel"
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _query(filters: AuditFilters):  # noqa: ANN202 (a select)
    query = select(AuditEntry)
    if filters.action:
        if filters.action in AuditAction.__members__.values() or "." in filters.action:
            query = query.where(col(AuditEntry.action) == filters.action)
        else:
            query = query.where(col(AuditEntry.action).startswith(filters.action + "."))
    if filters.actor:
        query = query.where(col(AuditEntry.actor) == filters.actor)
    if filters.since:
        query = query.where(col(AuditEntry.at) >= filters.since)
    if filters.until:
        query = query.where(col(AuditEntry.at) < filters.until)
    return query


def entries(session: Session, filters: AuditFilters | None = None, *, limit: int = PAGE_SIZE,
            offset: int = 0) -> list[AuditEntry]:
    """Newest first."""
    query = _query(filters or AuditFilters()).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


CSV_HEADER = ["时间（北京时间）", "操作人", "操作", "对象", "详情", "来源地址"]


def csv_lines(session: Session, filters: AuditFilters | None = None,
              labels: dict[str, str] | None = None) -> Iterator[str]:
    """The log as CSV (UTF-8 with BOM, cells that cannot start a formula), oldest first."""
    labels = labels or {}

    def rows() -> Iterator[list]:
        yield CSV_HEADER
        query = _query(filters or AuditFilters()).order_by(col(AuditEntry.at), col(AuditEntry.id))
        for e in session.exec(query.execution_options(yield_per=1000)):
            detail = "; ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
            yield [e.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), e.actor, labels.get(e.action, e.action),
                   e.target, detail, e.address]

    return to_csv(rows())
