"""The assessment's SQL: the statements it runs, with the pieces that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, case, cast, false, func, literal, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from desk.models import Incident, IncidentSupport, IncidentTask, Milestone, TimelineEvent
from desk.release_content import PARTS
from desk.stats.definitions import ASSESSED, TASK
from desk.stats.periods import Period
from desk.timefmt import naive_utc
from desk.vocab import EventKind, Level, MilestoneState

RELEASE_KINDS = (EventKind.released, EventKind.press_conference, EventKind.update)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def month_of(session: Session, column) -> ColumnElement:
    """'YYYY-MM' of a UTC timestamp, in Beijing time (UTC+8 all year: China keeps no daylight time)."""
    if dialect_of(session) == "sqlite":
        return func.strftime("%Y-%m", column, "+8 hours")
    return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")


def seconds_between(session: Session, start, end) -> ColumnElement:
    if dialect_of(session) == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)  # a float, not a Decimal per row


def bucket_of(now: datetime, state=Milestone.state, due=Milestone.due_at) -> ColumnElement:
    """A clock's outcome (one of BUCKETS); a pending one past its deadline is overdue already. A milestone's by
    default; a supporting party's acknowledgement or a task's with their columns."""
    met, met_late, waived, overdue = (MilestoneState.met, MilestoneState.met_late, MilestoneState.waived,
                                      MilestoneState.overdue)
    return case(
        (col(state) == met, met.value),
        (col(state) == met_late, met_late.value),
        (col(state) == waived, waived.value),
        (or_(col(state) == overdue, col(due) <= now), overdue.value),
        else_=MilestoneState.pending.value,
    )


def scope(period: Period, party: str | None) -> list[ColumnElement]:
    conditions = [col(Incident.drill) == false(), col(Incident.detected_at) >= period.utc_start,
                  col(Incident.detected_at) < period.utc_end]
    if party:
        conditions.append(col(Incident.party_code) == party)
    return conditions


def not_merged() -> ColumnElement:
    """The incident was not merged into another: the topic counts once, as the incident it was merged into."""
    return col(Incident.merged_into).is_(None)


def counted_milestone() -> ColumnElement:
    """A milestone the assessment counts: any of an incident not merged; of a merged one, only a deadline missed
    before the merge (overdue, or met late), so merging never wipes a breach (definitions: "merged")."""
    return or_(not_merged(), col(Milestone.state).in_((MilestoneState.met_late, MilestoneState.overdue)))


def outcome_counts_sql(session: Session, period: Period, party: str | None, now: datetime):
    """One grouped query: (party, milestone, month, outcome, level-I flag) -> count."""
    return (
        select(
            col(Incident.party_code).label("party"), col(Milestone.key).label("mkey"),
            month_of(session, Incident.detected_at).label("month"), bucket_of(now).label("bucket"),
            (col(Incident.level) == Level.I).label("level_one"), func.count().label("n"),
        )
        .select_from(Milestone).join(Incident, col(Incident.id) == col(Milestone.incident_id))
        .where(*scope(period, party), col(Milestone.key).in_(ASSESSED), counted_milestone())
        .group_by(literal_column("party"), literal_column("mkey"), literal_column("month"),
                  literal_column("bucket"), literal_column("level_one"))
    )


def shared_outcomes_sql(session: Session, period: Period, party: str | None, now: datetime) -> list:
    """The parties' own clocks besides the lead's milestones, in the shape of outcome_counts_sql: each supporting
    party's acknowledgement counts on its own "acknowledge" line, each task on the "task" line, for the party
    it was given to (the incident's period and drill rules apply)."""
    supports = (
        select(col(IncidentSupport.party_code).label("party"), literal("acknowledge").label("mkey"),
               month_of(session, Incident.detected_at).label("month"),
               bucket_of(now, IncidentSupport.ack_state, IncidentSupport.ack_due_at).label("bucket"),
               literal(False).label("level_one"), func.count().label("n"))
        .select_from(IncidentSupport).join(Incident, col(Incident.id) == col(IncidentSupport.incident_id))
        .where(*scope(period, None), col(IncidentSupport.ack_state).is_not(None),
               *([col(IncidentSupport.party_code) == party] if party else []))
        .group_by(literal_column("party"), literal_column("month"), literal_column("bucket"))
    )
    tasks = (
        select(col(IncidentTask.party_code).label("party"), literal(TASK).label("mkey"),
               month_of(session, Incident.detected_at).label("month"),
               bucket_of(now, IncidentTask.state, IncidentTask.due_at).label("bucket"),
               literal(False).label("level_one"), func.count().label("n"))
        .select_from(IncidentTask).join(Incident, col(Incident.id) == col(IncidentTask.incident_id))
        .where(*scope(period, None), *([col(IncidentTask.party_code) == party] if party else []))
        .group_by(literal_column("party"), literal_column("month"), literal_column("bucket"))
    )
    return [supports, tasks]


def durations_sql(session: Session, period: Period, party: str | None):
    """Seconds from detection to meeting, for every met assessed milestone."""
    return (
        select(col(Incident.party_code), col(Milestone.key),
               seconds_between(session, Incident.detected_at, Milestone.met_at).label("seconds"))
        .select_from(Milestone).join(Incident, col(Incident.id) == col(Milestone.incident_id))
        .where(*scope(period, party), col(Milestone.key).in_(ASSESSED), not_merged(),
               col(Milestone.state).in_((MilestoneState.met, MilestoneState.met_late)))
    )


def incident_counts_sql(session: Session, period: Period, party: str | None):
    return (
        select(col(Incident.party_code).label("party"), month_of(session, Incident.detected_at).label("month"),
               func.count().label("n"))
        .where(*scope(period, party), not_merged())
        .group_by(literal_column("party"), literal_column("month"))
    )


def release_content_sql(session: Session, period: Period, party: str | None):
    """Per party: the releases recorded (first release, press conference, follow-ups) and how many said all three
    parts, 事实 · 措施 · 结果/进展 (desk/release_content.coverage, in SQL: each part present and not blank)."""
    payload = col(TimelineEvent.payload)
    said = [func.length(func.trim(func.coalesce(payload[part].as_string(), ""))) > 0 for part in PARTS]
    complete = case((said[0] & said[1] & said[2], 1), else_=0)
    return (
        select(col(Incident.party_code).label("party"), func.count().label("n"),
               func.coalesce(func.sum(complete), 0).label("complete"))
        .select_from(TimelineEvent).join(Incident, col(Incident.id) == col(TimelineEvent.incident_id))
        .where(*scope(period, party), col(TimelineEvent.kind).in_(RELEASE_KINDS))
        .group_by(literal_column("party"))
    )


def assessment_statements(session: Session, period: Period, party: str | None, now: datetime) -> list:
    """The statements the assessment runs, in order (the benchmark times them bare, too)."""
    return [outcome_counts_sql(session, period, party, now), durations_sql(session, period, party),
            incident_counts_sql(session, period, party), release_content_sql(session, period, party)]


def stamp_sql(period: Period, party: str | None, now: datetime) -> list:
    """What the period's figures depend on, cheaply: the incidents detected in it, their event counts
    (every recorded event raises ``version``), and how many pending milestones are past due at ``now``."""
    incidents = select(func.count(), func.coalesce(func.sum(Incident.version), 0), func.max(Incident.id)).where(
        col(Incident.detected_at) >= period.utc_start, col(Incident.detected_at) < period.utc_end)
    # Driven from the few pending milestones (ix_milestone_state), not from the period's incidents.
    past_due = select(func.count()).select_from(Milestone).where(
        col(Milestone.state) == MilestoneState.pending, col(Milestone.due_at) <= now, col(Milestone.key).in_(ASSESSED),
        select(col(Incident.id)).where(col(Incident.id) == col(Milestone.incident_id), *scope(period, party)).exists())
    # The parties' own clocks (supporting acknowledgements, tasks) pending past due, the same way.
    in_scope = select(col(Incident.id)).where(*scope(period, None))
    shared_past_due = select(
        select(func.count()).select_from(IncidentSupport).where(
            col(IncidentSupport.ack_state) == MilestoneState.pending, col(IncidentSupport.ack_due_at) <= now,
            col(IncidentSupport.incident_id).in_(in_scope)).scalar_subquery()
        + select(func.count()).select_from(IncidentTask).where(
            col(IncidentTask.state) == MilestoneState.pending, col(IncidentTask.due_at) <= now,
            col(IncidentTask.incident_id).in_(in_scope)).scalar_subquery())
    return [incidents, past_due, shared_past_due]


def detail_sql(session: Session, period: Period, party: str | None):
    dialect = dialect_of(session)
    return (
        select(col(Incident.human_id), col(Incident.title), col(Incident.party_code), col(Incident.level),
               col(Incident.category), naive_utc(dialect, Incident.detected_at), col(Milestone.key),
               naive_utc(dialect, Milestone.due_at), col(Milestone.state), naive_utc(dialect, Milestone.met_at),
               col(Milestone.waived_reason))
        .select_from(Milestone).join(Incident, col(Incident.id) == col(Milestone.incident_id))
        .where(*scope(period, party), col(Milestone.key).in_(ASSESSED), counted_milestone())
        .order_by(col(Incident.detected_at), col(Incident.id), col(Milestone.key))
    )
