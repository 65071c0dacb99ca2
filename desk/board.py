"""The supervisor board (督办看板): every open incident, what needs attention first, from SQL only.

Sorting on ``next_due_at`` ascending already puts overdue incidents first: an overdue milestone is an
open one whose deadline has passed, so it is the incident's nearest deadline. The index
``ix_incident_status_next_due`` serves that order directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import case, false, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from desk.models import Incident, Milestone, Party, TimelineEvent
from desk.stats import CATEGORY_LABELS, LEVEL_LABELS, MILESTONE_LABELS, SHANGHAI

OVERDUE, AT_RISK, ON_TRACK = "overdue", "at_risk", "on_track"
STATUSES = (OVERDUE, AT_RISK, ON_TRACK)
STATUS_LABELS = {OVERDUE: "已超期", AT_RISK: "临近时限", ON_TRACK: "正常"}
AT_RISK_SHARE = 0.25  # the last quarter of a window: after the 75% reminder
REMINDER_KINDS = ("reminder_sent",)
ESCALATION_KINDS = ("escalated", "escalation_repeated")
FAILURE_KINDS = ("notification_failed", "channel_failure_escalated")
DEFAULT_LIMIT = 500
NO_NOTICES = {"reminders": 0, "escalations": 0, "failures": 0, "last_notice_at": None}

BOARD_DEFINITIONS = (
    {"key": "open", "label": "处置中", "text": "尚未结案的事件数（按当前筛选）。"},
    {"key": "at_risk", "label": "临近时限",
     "text": "未超期，但距最近时限的剩余时间不足“发现至该时限”总时长的 25%（已过 75% 提醒点）。"},
    {"key": "overdue", "label": "已超期", "text": "至少一个时限已过截止时间仍未完成、也未豁免的事件数。"},
    {"key": "met_today", "label": "今日完成", "text": "今天（北京时间）完成的时限数，含超时完成；演练按筛选计入。"},
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
            out.append(Incident.party_code == self.party)
        if self.level:
            out.append(Incident.level == self.level)
        if self.category:
            out.append(Incident.category == self.category)
        if not self.drills:
            out.append(Incident.drill == false())
        return out


def classify(next_due_at: datetime | None, detected_at: datetime, overdue: bool, now: datetime) -> str:
    if overdue or (next_due_at is not None and next_due_at <= now):
        return OVERDUE
    if next_due_at is not None and (next_due_at - now) <= (next_due_at - detected_at) * AT_RISK_SHARE:
        return AT_RISK
    return ON_TRACK


def open_incidents_sql(filters: BoardFilters):
    return (
        select(Incident.id, Incident.human_id, Incident.title, Incident.level, Incident.category,
               Incident.party_code, Incident.drill, Incident.detected_at, Incident.next_due_at, Incident.overdue)
        .where(Incident.status == "open", *filters.conditions())
        .order_by(Incident.next_due_at.is_(None), Incident.next_due_at, Incident.id)
    )


def open_milestones_sql(filters: BoardFilters):
    return (
        select(Milestone.incident_id, Milestone.key, Milestone.label, Milestone.due_at, Milestone.state)
        .where(Milestone.incident_id.in_(select(Incident.id).where(Incident.status == "open", *filters.conditions())),
               Milestone.state.in_(("pending", "overdue")))
        .order_by(Milestone.incident_id, Milestone.due_at, Milestone.key)  # an incident's next one comes first
    )


def notices_sql(filters: BoardFilters):
    """Per open incident: reminders sent, escalations, failed notifications, and the latest of them."""
    def count(kinds: tuple[str, ...]):
        return func.sum(case((TimelineEvent.kind.in_(kinds), 1), else_=0))

    return (
        select(TimelineEvent.incident_id, count(REMINDER_KINDS), count(ESCALATION_KINDS), count(FAILURE_KINDS),
               func.max(TimelineEvent.at))
        # Driven from the few open incidents (a semi-join), never from the million events.
        .where(TimelineEvent.incident_id.in_(select(Incident.id).where(Incident.status == "open", *filters.conditions())),
               TimelineEvent.kind.in_(REMINDER_KINDS + ESCALATION_KINDS + FAILURE_KINDS))
        .group_by(TimelineEvent.incident_id)
    )


def met_today_sql(filters: BoardFilters, now: datetime):
    today = now.astimezone(SHANGHAI).date()
    start = datetime.combine(today, time(), SHANGHAI).astimezone(timezone.utc)
    return (
        select(func.count())
        .select_from(Milestone).join(Incident, Incident.id == Milestone.incident_id)
        .where(Milestone.met_at >= start, Milestone.met_at < start + timedelta(days=1),
               Milestone.state.in_(("met", "met_late")), *filters.conditions())
    )


def board_statements(filters: BoardFilters, now: datetime) -> list:
    """The statements the board runs, in order (the benchmark times them bare, too)."""
    return [open_incidents_sql(filters), open_milestones_sql(filters), notices_sql(filters),
            met_today_sql(filters, now)]


def board(session: Session, filters: BoardFilters = BoardFilters(), *, now: datetime | None = None) -> dict:
    """The board's rows (sorted: overdue first, then the nearest deadline) and the counts above them."""
    now = now or datetime.now(timezone.utc)
    incidents_q, milestones_q, notices_q, met_today_q = board_statements(filters, now)
    names = dict(session.execute(select(Party.code, Party.name)).all())
    incidents = session.execute(incidents_q).all()
    next_milestone: dict[int, tuple] = {}
    for m in session.execute(milestones_q):
        next_milestone.setdefault(m.incident_id, m)
    notices = {row[0]: row for row in session.execute(notices_q)}  # formatted only for the rows listed
    counts = {"open": 0, OVERDUE: 0, AT_RISK: 0, ON_TRACK: 0,
              "met_today": session.execute(met_today_q).scalar_one()}
    rows = []
    for i in incidents:
        status = classify(i.next_due_at, i.detected_at, i.overdue, now)
        counts["open"] += 1
        counts[status] += 1
        if filters.status and status != filters.status:
            continue
        if len(rows) >= filters.limit:
            continue
        m = next_milestone.get(i.id)
        n = notices.get(i.id)
        notice = NO_NOTICES if n is None else {"reminders": n[1], "escalations": n[2], "failures": n[3],
                                               "last_notice_at": _aware(n[4]).isoformat()}
        rows.append({
            "id": i.human_id, "title": i.title, "level": i.level, "level_label": LEVEL_LABELS.get(i.level, i.level),
            "category": i.category, "category_label": CATEGORY_LABELS.get(i.category, i.category),
            "party": i.party_code, "party_name": names.get(i.party_code, i.party_code), "drill": i.drill,
            "detected_at": i.detected_at.isoformat(), "status": status, "status_label": STATUS_LABELS[status],
            "next_milestone": None if m is None else {
                "key": m.key, "label": m.label or MILESTONE_LABELS.get(m.key, m.key),
                "due_at": m.due_at.isoformat(), "seconds_left": int((m.due_at - now).total_seconds()),
            },
            **notice,
        })
    listed = counts[filters.status] if filters.status else counts["open"]
    return {"now": now.isoformat(), "counts": counts, "rows": rows, "truncated": listed > len(rows),
            "definitions": list(BOARD_DEFINITIONS)}


def _aware(value: datetime) -> datetime:
    """func.max() loses the column type on SQLite (a string comes back): read it as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
