"""The supervisor board (督办看板): every open incident, what needs attention first, from SQL only.

The order: overdue incidents first, then those at risk, then those on track; within each group the
nearest deadline first, and an incident with no open deadline after the ones that have one (so, in
practice, last). The nearest deadline alone is not enough: an acknowledgement due in 50 minutes of its
hour is on track, a first release due in 10 hours of its 48 is at risk and must come before it.

The database does the work, in two statements whatever the number of open incidents
(``ix_incident_status_next_due`` finds the open ones), and a third when some shown rows are overdue:

1. the counts: every open incident classified (overdue / at risk / on track, ``rank_of``) and
   counted, and the milestones met today;
2. the page: the status filter, the order (``rank_of``) and the limit applied in SQL, then for those
   rows only their next open milestone and their notices (reminders, escalations, failed notifications);
3. every missed deadline of the overdue rows shown, the release first: a missed 48-hour release must not
   hide behind an earlier missed acknowledgement.

Python only formats the rows shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, case, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from desk import clocks as clk
from desk import glossary
from desk.models import Incident, IncidentTask, Milestone, NotificationAttempt, Party, TimelineEvent, UTCDateTime
from desk.stats.definitions import CATEGORY_LABELS, LEVEL_LABELS, MILESTONE_LABELS
from desk.timefmt import SHANGHAI, naive_utc
from desk.vocab import ESCALATION_EVENTS, FAILURE_EVENTS, REMINDER_EVENTS, IncidentStatus, MilestoneState

OVERDUE, AT_RISK, ON_TRACK = "overdue", "at_risk", "on_track"
STATUSES = (OVERDUE, AT_RISK, ON_TRACK)
STATUS_LABELS = {OVERDUE: glossary.OVERDUE, AT_RISK: glossary.AT_RISK, ON_TRACK: glossary.ON_TRACK}
AT_RISK_QUARTERS = round(1 / (1 - clk.AT_RISK_SHARE))  # at risk in the last quarter of a window (desk.clocks)
OPEN_STATES = (MilestoneState.pending, MilestoneState.overdue)
REMINDER_KINDS, ESCALATION_KINDS, FAILURE_KINDS = REMINDER_EVENTS, ESCALATION_EVENTS, FAILURE_EVENTS
DEFAULT_LIMIT = 500
# When several deadlines are missed, the one the rules weigh most is named first (SPEC: release, press conference).
MISSED_ORDER = ("first_release", "press_conference", "follow_up", "acknowledge")
UTC_SUFFIX = "+00:00"  # what isoformat() adds to an aware UTC time
NO_NOTICES = {"reminders": 0, "escalations": 0, "failures": 0, "last_notice_at": None}
NO_CHANNEL = "no_channel"  # a send whose tags no channel answers to: it reached no one

BOARD_DEFINITIONS = (
    {"key": "open", "label": "处置中", "text": "尚未结案的事件数（按当前筛选）。"},
    {"key": "at_risk", "label": "临近时限",
     "text": "未超期，但距最近时限的剩余时间不足“发现至该时限”总时长的 25%（已过 75% 提醒点）。"},
    {"key": "overdue", "label": glossary.OVERDUE, "text": "至少一个时限已过截止时间仍未完成、也未豁免的事件数。"},
    {"key": "met_today", "label": "今日完成", "text": "今天（北京时间）完成的时限数，含超时完成；演练按筛选计入。"},
)
BOARD_DEFINITIONS_EN = (
    {"key": "open", "label": "Open", "text": "Incidents not yet closed (under the current filters)."},
    {"key": "at_risk", "label": "At risk",
     "text": "Not overdue, but less than 25% of the time from detection to the nearest deadline is left "
             "(past the 75% reminder)."},
    {"key": "overdue", "label": "Overdue",
     "text": "Incidents with at least one deadline passed that is neither met nor waived."},
    {"key": "met_today", "label": "Met today",
     "text": "Deadlines met today (Beijing time), late ones included; drills as the filter says."},
)


@dataclass(frozen=True)
class BoardFilters:
    party: str | None = None
    level: str | None = None
    category: str | None = None
    status: str | None = None  # overdue | at_risk | on_track; None: all open
    drills: bool = False  # drills are hidden unless asked for
    limit: int = DEFAULT_LIMIT

    def conditions(self) -> list[ColumnElement]:
        out: list[ColumnElement] = []
        if self.party:
            out.append(col(Incident.party_code) == self.party)
        if self.level:
            out.append(col(Incident.level) == self.level)
        if self.category:
            out.append(col(Incident.category) == self.category)
        if not self.drills:
            out.append(col(Incident.drill) == false())
        return out


# --- the statements -------------------------------------------------------------------------------------
#
# Two statements, built once per backend and set of filters (kept by ``_statements``); the moment is bound
# when they run (``board_params``).

NOW = bindparam("now", type_=UTCDateTime)


def _status_conditions(dialect: str) -> tuple[ColumnElement, ColumnElement]:
    """(overdue, at risk) at ``:now``; the at-risk test applies to incidents not overdue."""
    if dialect == "sqlite":  # times are text there; julianday() reads them as days, to the millisecond
        left = (func.julianday(Incident.next_due_at) - func.julianday(NOW)) * AT_RISK_QUARTERS
        window = func.julianday(Incident.next_due_at) - func.julianday(Incident.detected_at)
    else:  # PostgreSQL: interval arithmetic, to the microsecond (SQLAlchemy's Interval has no '*' of its own)
        left = (col(Incident.next_due_at) - NOW).self_group().op("*")(AT_RISK_QUARTERS)
        window = col(Incident.next_due_at) - col(Incident.detected_at)
    return (or_(col(Incident.overdue) == true(), col(Incident.next_due_at) <= NOW),
            and_(col(Incident.next_due_at).is_not(None), left <= window))


def rank_of(dialect: str) -> ColumnElement:
    """An open incident's status at ``:now``, in SQL, as its place in the board's order: 0 overdue,
    1 at risk, 2 on track (``STATUSES[rank]``); the counts, the filter and the order all use it.
    The definitions above the board say it in words:

    - overdue: a milestone recorded overdue, or the nearest deadline already passed;
    - at risk: less than a quarter of the window from detection to the nearest deadline left,
      i.e. (next_due_at - now) * 4 <= next_due_at - detected_at;
    - on track: everything else, including an incident with no open deadline.
    """
    overdue, at_risk = _status_conditions(dialect)
    return case((overdue, 0), (at_risk, 1), else_=2)


def _open(filters: BoardFilters) -> list[ColumnElement]:
    return [col(Incident.status) == IncidentStatus.open, *filters.conditions()]


def met_today_sql(filters: BoardFilters):
    """Milestones met between ``:day_start`` and ``:day_end`` (today in Beijing)."""
    return (
        select(func.count())
        .select_from(Milestone).join(Incident, col(Incident.id) == col(Milestone.incident_id))
        .where(col(Milestone.met_at) >= bindparam("day_start", type_=UTCDateTime),
               col(Milestone.met_at) < bindparam("day_end", type_=UTCDateTime),
               col(Milestone.state).in_((MilestoneState.met, MilestoneState.met_late)), *filters.conditions())
    )


def counts_sql(dialect: str, filters: BoardFilters):
    """One row: open incidents, how many of them overdue and at risk, milestones met today."""
    rank = rank_of(dialect)

    def count(status: str):
        return func.coalesce(func.sum(case((rank == STATUSES.index(status), 1), else_=0)), 0)

    met_today = met_today_sql(filters).correlate(None).scalar_subquery()
    return select(func.count(), count(OVERDUE), count(AT_RISK), met_today).where(*_open(filters))


def page_sql(dialect: str, filters: BoardFilters):
    """The rows shown, at most ``limit``: overdue first, then at risk, then on track, each group by the
    nearest deadline (none last); each row with its party's name, its next open milestone and its notices
    (reminders, escalations, failed notifications and the latest of them). The milestone and the notices
    are looked up for these rows only."""
    rank = rank_of(dialect).label("status_rank")
    rows = select(col(Incident.id), col(Incident.human_id), col(Incident.title), col(Incident.level), col(Incident.category),
                  col(Incident.party_code), col(Incident.drill), naive_utc(dialect, Incident.detected_at).label("detected_at"),
                  col(Incident.next_due_at), rank).where(*_open(filters))
    if filters.status:
        rows = rows.where(rank == STATUSES.index(filters.status))
    page = rows.order_by(rank, col(Incident.next_due_at).is_(None), col(Incident.next_due_at), col(Incident.id)) \
        .limit(filters.limit).cte("page")

    next_milestone = (
        select(col(Milestone.id))
        .where(col(Milestone.incident_id) == page.c.id, col(Milestone.state).in_(OPEN_STATES))
        .order_by(col(Milestone.due_at), col(Milestone.key)).limit(1)
        .correlate(page).scalar_subquery()
    )

    def count(kinds: tuple[str, ...]):
        return func.sum(case((col(TimelineEvent.kind).in_(kinds), 1), else_=0))

    notices = (
        select(col(TimelineEvent.incident_id), count(REMINDER_KINDS).label("reminders"),
               count(ESCALATION_KINDS).label("escalations"), count(FAILURE_KINDS).label("failures"),
               func.max(naive_utc(dialect, TimelineEvent.at)).label("last_notice_at"))
        # ix_timeline_incident_kind: a few index entries per incident on the page
        .where(col(TimelineEvent.incident_id).in_(select(page.c.id)),
               col(TimelineEvent.kind).in_(REMINDER_KINDS + ESCALATION_KINDS + FAILURE_KINDS))
        .group_by(col(TimelineEvent.incident_id))
        .subquery("notices")
    )
    unreached = (
        select(func.count()).where(col(NotificationAttempt.incident_id) == page.c.id,
                                   col(NotificationAttempt.status) == NO_CHANNEL)
        .correlate(page).scalar_subquery()
    )

    def tasks(*past_due: ColumnElement):  # 督办事项 still open (and of them past due), by the incident's unique index
        return (select(func.count()).where(col(IncidentTask.incident_id) == page.c.id,
                                           col(IncidentTask.state).in_(OPEN_STATES), *past_due)
                .correlate(page).scalar_subquery())

    return (
        select(page.c.id, page.c.human_id, page.c.title, page.c.level, page.c.category, page.c.party_code,
               func.coalesce(Party.name, page.c.party_code), page.c.drill, page.c.detected_at, page.c.status_rank,
               col(Milestone.key), col(Milestone.label), naive_utc(dialect, Milestone.due_at),
               notices.c.reminders, notices.c.escalations, notices.c.failures, notices.c.last_notice_at,
               unreached.label("unreached"), tasks().label("tasks_open"),
               tasks(or_(col(IncidentTask.state) == MilestoneState.overdue, col(IncidentTask.due_at) <= NOW))
               .label("tasks_overdue"))
        .select_from(page)
        .outerjoin(Party, col(Party.code) == page.c.party_code)
        .outerjoin(Milestone, col(Milestone.id) == next_milestone)
        .outerjoin(notices, notices.c.incident_id == page.c.id)
        .order_by(page.c.status_rank, page.c.next_due_at.is_(None), page.c.next_due_at, page.c.id)
    )


@lru_cache(maxsize=128)
def _statements(dialect: str, filters: BoardFilters) -> tuple:
    return counts_sql(dialect, filters), page_sql(dialect, filters)


def missed_sql(dialect: str):
    """The open milestones already past their deadline, of the incidents ``:ids``."""
    return (select(col(Milestone.incident_id), col(Milestone.key), col(Milestone.label),
                   naive_utc(dialect, Milestone.due_at))
            .where(col(Milestone.incident_id).in_(bindparam("ids", expanding=True)),
                   col(Milestone.state).in_(OPEN_STATES), col(Milestone.due_at) <= NOW)
            .order_by(col(Milestone.incident_id), col(Milestone.due_at)))


def board_params(now: datetime) -> dict:
    start = datetime.combine(now.astimezone(SHANGHAI).date(), time(), SHANGHAI).astimezone(UTC)
    return {"now": now, "day_start": start, "day_end": start + timedelta(days=1)}


def board_statements(dialect: str, filters: BoardFilters, now: datetime) -> list:
    """The statements the board runs, in order, each with its values (the benchmark times them bare)."""
    params = board_params(now)
    return [(q, params) for q in _statements(dialect, filters)]


# --- the board ------------------------------------------------------------------------------------------


def board(session: Session, filters: BoardFilters = BoardFilters(), *, now: datetime | None = None,
          language: str = "zh") -> dict:
    """The board's rows (overdue, at risk, on track; each group by the nearest deadline) and the counts
    above them. ``matching``: the open incidents the filters select, of which ``rows`` shows at most
    ``limit``; ``truncated`` when that is fewer than ``matching``."""
    now = now or datetime.now(UTC)
    now_utc = now.astimezone(UTC).replace(tzinfo=None)  # the page's times come naive, in UTC
    counts_q, page_q = _statements(session.get_bind().dialect.name, filters)
    params = board_params(now)
    n_open, n_overdue, n_at_risk, met_today = session.execute(counts_q, params).one()
    counts = {"open": n_open, OVERDUE: n_overdue, AT_RISK: n_at_risk, ON_TRACK: n_open - n_overdue - n_at_risk,
              "met_today": met_today}
    rows = []
    overdue_ids: dict[int, dict] = {}
    for (incident_id, human_id, title, level, category, party, party_name, drill, detected_at, rank,
         m_key, m_label, m_due, reminders, escalations, failures, last_notice_at,
         unreached, tasks_open, tasks_overdue) in session.execute(page_q, params):
        rows.append({
            "id": human_id, "title": title, "level": level, "level_label": LEVEL_LABELS.get(level, level),
            "category": category, "category_label": CATEGORY_LABELS.get(category, category),
            "party": party, "party_name": party_name, "drill": drill,
            "detected_at": detected_at.isoformat() + UTC_SUFFIX,
            "status": STATUSES[rank], "status_label": STATUS_LABELS[STATUSES[rank]],
            "next_milestone": None if m_key is None else {
                "key": m_key, "label": m_label or MILESTONE_LABELS.get(m_key, m_key),
                "due_at": m_due.isoformat() + UTC_SUFFIX, "seconds_left": int((m_due - now_utc).total_seconds()),
            },
            **(NO_NOTICES if last_notice_at is None else {
                "reminders": reminders, "escalations": escalations, "failures": failures,
                "last_notice_at": last_notice_at.isoformat() + UTC_SUFFIX}),
            "unreached": unreached or 0,  # sends that reached no one: their tags have no channel
            "tasks_open": tasks_open or 0, "tasks_overdue": tasks_overdue or 0,  # 督办事项
            "missed": [],
        })
        if rank == 0:
            overdue_ids[incident_id] = rows[-1]
    if overdue_ids:
        missed_q = missed_sql(session.get_bind().dialect.name)
        for incident_id, key, label, due in session.execute(missed_q, {"ids": list(overdue_ids), "now": now}):
            overdue_ids[incident_id]["missed"].append({
                "key": key, "label": label or MILESTONE_LABELS.get(key, key), "due_at": due.isoformat() + UTC_SUFFIX,
                "seconds_left": int((due - now_utc).total_seconds())})
        for row in overdue_ids.values():
            row["missed"].sort(key=lambda m: MISSED_ORDER.index(m["key"]) if m["key"] in MISSED_ORDER else 99)
    matching = counts[filters.status] if filters.status else counts["open"]
    return {"now": now.isoformat(), "counts": counts, "rows": rows, "matching": matching,
            "truncated": matching > len(rows),
            "definitions": list(BOARD_DEFINITIONS_EN if language.startswith("en") else BOARD_DEFINITIONS)}
