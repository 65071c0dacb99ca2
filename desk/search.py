"""Full-text search over an incident's title, summary, notes and release summaries, for Chinese as written.

Each incident has one search document, in a table the database indexes for substrings (migration 0007):
SQLite's FTS5 with the trigram tokenizer (``incident_search``: title, summary, notes, releases, keyed by
the incident's rowid), PostgreSQL's pg_trgm (``incident_search``: one ``document`` column under a GIN
trigram index). Chinese has no spaces between words, so a query is matched as a substring, not as words.

Trigrams need three characters. A shorter query (a two-character word such as 燃气 is common) is a LIKE
over the same documents: a scan, measured by `python -m bench search`.

A page of results (urgent_first) is read in the list's order and stops at the page's end, so a common word
(燃气 is in a quarter of the board's documents) reads about one page of matches instead of sorting all of them:
the incidents with an open deadline (a few hundred; ix_incident_next_due) are checked one by one against their
document, the others are read newest first (SQLite: the FTS5 index gives its rowids in descending order;
PostgreSQL: the planner walks the primary key or the trigram index, whichever its statistics favour).

The document is rewritten by whoever writes what it holds, in the same transaction: opening (title and
summary) and the recorder when a note or a release reaches the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, column, func, literal_column, table, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from desk.errors import InvalidInput
from desk.models import Incident, TimelineEvent
from desk.timefmt import SHANGHAI
from desk.vocab import EventKind

TABLE = "incident_search"
MAX_QUERY = 100
_ID = column("id", Integer)
TRIGRAM = 3  # the shortest query the index can answer; shorter ones scan
NOTE_KINDS = (EventKind.note,)
RELEASE_KINDS = (EventKind.released, EventKind.press_conference, EventKind.update)
QUERY_TOO_LONG = f"搜索词过长：最多 {MAX_QUERY} 个字。"
QUERY_HAS_NUL = "搜索词不能包含空字符（NUL）。"
DATES_REVERSED = "结束日期早于开始日期，请调换或重新选择。"
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # a day outside cannot be turned into a UTC bound
DATE_OUT_OF_RANGE = "日期须在 1900-01-01 至 2999-12-31 之间，请重新选择。"


def is_search_table(name: str | None) -> bool:
    """The search tables (and FTS5's shadow tables) are not models: migrations and schema checks skip them."""
    return bool(name) and str(name).startswith(TABLE)


@dataclass(frozen=True)
class SearchFilters:
    """What the list page and ``GET /api/incidents`` filter by; empty fields do not filter."""

    q: str = ""
    detected_from: date | None = None  # Beijing calendar days, both ends included
    detected_to: date | None = None
    party: str | None = None
    level: str | None = None
    status: str | None = None
    source: str | None = None


def check(filters: SearchFilters) -> SearchFilters:
    """The filters as the query uses them (the query trimmed); InvalidInput on what cannot be searched."""
    q = filters.q.strip()
    if "\x00" in q:
        raise InvalidInput(QUERY_HAS_NUL, code="search.nul", field="q")
    if len(q) > MAX_QUERY:
        raise InvalidInput(QUERY_TOO_LONG, code="search.too_long", field="q", params={"n": MAX_QUERY})
    for field, day in (("detected_from", filters.detected_from), ("detected_to", filters.detected_to)):
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise InvalidInput(DATE_OUT_OF_RANGE, code="search.date_out_of_range", field=field)
    if filters.detected_from and filters.detected_to and filters.detected_to < filters.detected_from:
        raise InvalidInput(DATES_REVERSED, code="search.dates_reversed", field="detected_to")
    return SearchFilters(q=q, detected_from=filters.detected_from, detected_to=filters.detected_to,
                         party=filters.party or None, level=filters.level or None, status=filters.status or None,
                         source=filters.source or None)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def filtered(query: Any, filters: SearchFilters, dialect: str) -> Any:
    """``query`` (a select over Incident) narrowed by the checked filters."""
    if filters.q:
        query = query.where(matching(filters.q, dialect))
    if filters.detected_from:
        query = query.where(col(Incident.detected_at) >= _day_start(filters.detected_from))
    if filters.detected_to:
        query = query.where(col(Incident.detected_at) < _day_start(filters.detected_to + timedelta(days=1)))
    for field, value in ((Incident.party_code, filters.party), (Incident.level, filters.level),
                         (Incident.status, filters.status), (Incident.source, filters.source)):
        if value:
            query = query.where(col(field) == value)
    return query


def _like_pattern(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(q: str, dialect: str) -> ColumnElement[bool]:
    """Incident.id among the documents that contain ``q`` (case-insensitive, as a substring)."""
    return col(Incident.id).in_(matching_ids(q, dialect))


def _unique(name: str, value: str) -> Any:
    """A parameter named apart from its namesakes: the same test may appear twice in one statement."""
    return bindparam(name, value, unique=True)


# SQLite: the document's four columns contain :pattern (LIKE is case-insensitive for ASCII there)
_SQLITE_CONTAINS = (f"({TABLE}.title || ' ' || {TABLE}.summary || ' ' || {TABLE}.notes || ' ' || {TABLE}.releases)"
                    " LIKE :pattern ESCAPE '\\'")


def matching_ids(q: str, dialect: str) -> Any:
    """The statement selecting the ids of the documents that contain ``q``."""
    if dialect == "sqlite":
        if len(q) >= TRIGRAM:  # the index: the query as one phrase (its quotes doubled)
            return text(f"SELECT rowid AS id FROM {TABLE} WHERE {TABLE} MATCH :phrase").bindparams(
                _unique("phrase", '"' + q.replace('"', '""') + '"')).columns(_ID)
        return text(f"SELECT rowid AS id FROM {TABLE} WHERE {_SQLITE_CONTAINS}").bindparams(
            _unique("pattern", _like_pattern(q))).columns(_ID)
    # PostgreSQL: (I)LIKE uses the trigram index from three characters on, and scans below that.
    return text(f"SELECT incident_id AS id FROM {TABLE} WHERE document {_pg_like(q)} :pattern").bindparams(
        _unique("pattern", _like_pattern(q))).columns(_ID)


def _pg_like(q: str) -> str:
    """ILIKE for a query with letters that have a case; LIKE gives the same answer for one without (Chinese),
    and a scan with LIKE takes a third of the time."""
    return "LIKE" if q.lower() == q.upper() else "ILIKE"


def _document_contains(q: str, dialect: str) -> Any:
    """The incident's own document contains ``q``: looked up by key for each incident it is asked of (a
    correlated subquery the planner cannot turn into a scan of every document)."""
    if dialect == "sqlite":  # FTS5's MATCH restricted to one rowid still reads whole doclists: LIKE the content
        return text(f"EXISTS (SELECT 1 FROM {TABLE} WHERE {TABLE}.rowid = incident.id AND {_SQLITE_CONTAINS})"
                    ).bindparams(_unique("pattern", _like_pattern(q)))
    return text(f"coalesce((SELECT {TABLE}.document {_pg_like(q)} :pattern FROM {TABLE} "
                f"WHERE {TABLE}.incident_id = incident.id), false)").bindparams(_unique("pattern", _like_pattern(q)))


_FTS = table(TABLE, column("rowid", Integer))


PROBE_AT_MOST = 2000  # SQLite: fewer incidents than this left by the other filters are checked one by one


def urgent_first(session: Session, query: Any, filters: SearchFilters, *, offset: int = 0,
                 limit: int) -> list[Incident]:
    """One page of ``query`` (a select over Incident) narrowed by the checked filters, the most urgent first:
    the nearest open deadline first, then the incidents without one, the newest first (by id).

    With a query, the two halves are read apart (halves()), each in its own order, and the second only for
    what the first leaves of the page."""
    dialect = session.get_bind().dialect.name
    if not filters.q:
        query = filtered(query, filters, dialect)
        return list(session.exec(query.order_by(col(Incident.next_due_at).is_(None), col(Incident.next_due_at),
                                                col(Incident.id).desc()).offset(offset).limit(limit)).all())
    due, rest = halves(session, query, filters, offset + limit)
    rows = list(session.exec(due).all())
    if len(rows) < offset + limit:
        rows += session.exec(rest.limit(offset + limit - len(rows))).all()
    return rows[offset:offset + limit]


def halves(session: Session, query: Any, filters: SearchFilters, n: int) -> tuple[Any, Any]:
    """The first ``n`` matches of the query with a deadline (nearest first), and of those without (newest
    first): each stops at ``n`` rows, so a common word does not sort all its matches.

    The incidents with a deadline (few: the open ones) are read by ix_incident_next_due, each checked against
    its own document. The others: PostgreSQL's planner chooses between the primary key (newest first, each
    checked) and the trigram index by its statistics. SQLite has none for FTS5, so it counts up to
    PROBE_AT_MOST: a rare word (three characters or more) takes its few matches from the index; else, when the
    other filters leave few incidents, each is checked against its document; else the FTS5 index drives,
    newest first (it gives its rowids in descending order).
    """
    dialect = session.get_bind().dialect.name
    query = filtered(query, replace(filters, q=""), dialect)
    rare = dialect == "sqlite" and len(filters.q) >= TRIGRAM and _fewer_than(
        session, select(column("id")).select_from(matching_ids(filters.q, dialect).subquery()), PROBE_AT_MOST)
    due = query.where(col(Incident.next_due_at).is_not(None),
                      matching(filters.q, dialect) if rare else _document_contains(filters.q, dialect))
    # SQLite: "+" keeps it from reading every incident without a deadline through ix_incident_status_next_due
    # (a skip-scan over both statuses) when another filter's index leaves far fewer
    rest = query.where(literal_column("+incident.next_due_at").is_(None) if dialect == "sqlite"
                       else col(Incident.next_due_at).is_(None))
    rest_order: Any = col(Incident.id).desc()
    if dialect != "sqlite" or rare:
        rest = rest.where(matching(filters.q, dialect))
    elif _fewer_than(session, rest.with_only_columns(col(Incident.id)), PROBE_AT_MOST):
        rest = rest.where(_document_contains(filters.q, dialect))
    else:  # "+": SQLite must not turn the join round and ask the index once per incident
        rest = rest.select_from(_FTS.join(Incident, col(Incident.id) == literal_column(f"+{TABLE}.rowid"))) \
            .where(_fts_match(filters.q))
        rest_order = _FTS.c.rowid.desc()
    return (due.order_by(col(Incident.next_due_at), col(Incident.id).desc()).limit(n),
            rest.order_by(rest_order).limit(n))


def _fewer_than(session: Session, query: Any, n: int) -> bool:
    """Whether ``query`` has fewer than ``n`` rows (it reads at most ``n``)."""
    return session.exec(select(func.count()).select_from(query.limit(n).subquery())).one() < n


def _fts_match(q: str) -> Any:
    """SQLite: the search table's rows whose document contains ``q`` (the index from three characters on)."""
    if len(q) >= TRIGRAM:
        return text(f"{TABLE} MATCH :phrase").bindparams(_unique("phrase", '"' + q.replace('"', '""') + '"'))
    return text(f"({TABLE}.title || ' ' || {TABLE}.summary || ' ' || {TABLE}.notes || ' ' || {TABLE}.releases)"
                " LIKE :pattern ESCAPE '\\'").bindparams(_unique("pattern", _like_pattern(q)))


# --- the documents --------------------------------------------------------------------------------------


# Built once (a document is rewritten with every note and release the worker records).
_TEXT_EVENTS_OF = select(TimelineEvent.kind, TimelineEvent.payload).where(
    TimelineEvent.incident_id == bindparam("incident_id"),
    col(TimelineEvent.kind).in_([*NOTE_KINDS, *RELEASE_KINDS])).order_by(col(TimelineEvent.seq))
_WRITE_SQLITE = text(f"INSERT OR REPLACE INTO {TABLE} (rowid, title, summary, notes, releases) "
                     "VALUES (:id, :title, :summary, :notes, :releases)")
_WRITE_POSTGRES = text(f"INSERT INTO {TABLE} (incident_id, document) VALUES (:id, :document) "
                       "ON CONFLICT (incident_id) DO UPDATE SET document = excluded.document")


def document_parts(session: Session, incident: Incident) -> tuple[str, str, str, str]:
    """(title, summary, notes, releases) of the incident as the timeline has them now."""
    rows = session.exec(_TEXT_EVENTS_OF, params={"incident_id": incident.id}).all()
    notes = [str(p.get("text", "")) for k, p in rows if k in NOTE_KINDS]
    releases = [str(p.get("summary", "")) for k, p in rows if k in RELEASE_KINDS]
    return incident.title, incident.summary, "\n".join(n for n in notes if n), "\n".join(r for r in releases if r)


def write_document(session: Session, incident: Incident, *, new: bool = False) -> None:
    """(Re)write the incident's search document in the session's transaction. ``new``: an incident being
    opened, which has no notes or releases yet: the timeline is not read (a statement fewer)."""
    if new:
        title, summary, notes, releases = incident.title, incident.summary, "", ""
    else:
        title, summary, notes, releases = document_parts(session, incident)
    if session.get_bind().dialect.name == "sqlite":  # FTS5 replaces a row of the same rowid
        session.execute(_WRITE_SQLITE, {"id": incident.id, "title": title, "summary": summary, "notes": notes,
                                        "releases": releases})
        return
    session.execute(_WRITE_POSTGRES, {"id": incident.id, "document": "\n".join((title, summary, notes, releases))})


def remove_document(session: Session, incident_id: int) -> None:
    key = "rowid" if session.get_bind().dialect.name == "sqlite" else "incident_id"
    session.execute(text(f"DELETE FROM {TABLE} WHERE {key} = :id"), {"id": incident_id})


def touches_document(kinds: list[str]) -> bool:
    """Whether events of these kinds change what the document holds."""
    return any(k in NOTE_KINDS or k in RELEASE_KINDS for k in kinds)
