"""SQL read models and records (SQLModel). Written by activities and the API; read by pages and reports.

Timeline events and notification attempts are append-only: no route updates or deletes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Named constraints, so Alembic migrations can alter them later (SQLite's batch mode needs the names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores UTC, returns aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Party(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    kind: str = Field(default="department", max_length=20)  # county | department | coordinator
    active: bool = True


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(default="", max_length=100)
    password_hash: str
    role: str = Field(max_length=20)  # duty_officer | responder | supervisor | admin
    party_code: str | None = Field(default=None, foreign_key="party.code", max_length=64)
    language: str = Field(default="zh", max_length=8)
    active: bool = True
    created_at: datetime = utc_column(default_factory=utcnow)
    # In every token and session cookie; bumped by logout, a new password and disabling, which revokes them all.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    phone: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": text("''")})


class Incident(SQLModel, table=True):
    __table_args__ = (
        Index("ix_incident_status_next_due", "status", "next_due_at"),
        # The list's urgency order: the incidents with an open deadline, nearest first (desk/search.py). Partial:
        # only those (few), so no plan reads it for the many without a deadline.
        Index("ix_incident_next_due", "next_due_at", sqlite_where=text("next_due_at IS NOT NULL"),
              postgresql_where=text("next_due_at IS NOT NULL")),
        Index("ix_incident_party_detected", "party_code", "detected_at"),
        # Assessment: the period's incidents per party, index-only (desk/stats/queries.py).
        Index("ix_incident_party_period", "party_code", "detected_at", "drill", "level"),
        # All parties' incidents of a period, index-only: their count per month and the stamp that tells
        # whether a remembered assessment still holds (desk/stats/cache.py).
        Index("ix_incident_detected_version", "detected_at", "drill", "party_code", "version", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    human_id: str = Field(unique=True, max_length=32)
    workflow_id: str = Field(unique=True, max_length=64)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=5000)
    source: str = Field(max_length=32)
    source_url: str = Field(default="", max_length=2000)
    category: str = Field(max_length=32)
    level: str = Field(max_length=4)
    party_code: str = Field(foreign_key="party.code", max_length=64)
    status: str = Field(default="open", max_length=16, index=True)
    drill: bool = Field(default=False)
    policy_name: str = Field(default="", max_length=100)
    # The policy the incident was opened under (desk.policy.Policy as JSON): `doctor --repair` restarts a
    # lost workflow with the same rules, whatever the policy file says today.
    policy_snapshot: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reporter: str = Field(default="", max_length=64)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    detected_at: datetime = utc_column()
    opened_at: datetime = utc_column(default_factory=utcnow)
    closed_at: datetime | None = utc_column(default=None)
    next_due_at: datetime | None = utc_column(default=None)  # nearest open deadline: the board sorts on it
    overdue: bool = False
    version: int = 0  # the workflow's event sequence: an older snapshot never overwrites a newer one
    updated_at: datetime = utc_column(default_factory=utcnow)
    # Closed as a duplicate of this incident (its human id): the assessment counts the topic once, there.
    merged_into: str | None = Field(default=None, max_length=32, index=True)


class IncidentLink(SQLModel, table=True):
    """Two incidents marked as related (SPEC §9): one row per pair, whichever page it was made on (the lower
    id first), written with the "linked" event that made it; both incidents' pages list the other."""

    __table_args__ = (
        UniqueConstraint("incident_id", "related_id"),
        Index("ix_incidentlink_related", "related_id", "incident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    related_id: int = Field(foreign_key="incident.id")
    actor: str = Field(default="", max_length=64)
    at: datetime = utc_column(default_factory=utcnow)


class Milestone(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("incident_id", "key"),
        # Assessment reads outcomes without touching the table; the board counts what was met today.
        Index("ix_milestone_outcome", "incident_id", "key", "state", "due_at", "met_at"),
        Index("ix_milestone_met_at", "met_at"),
        Index("ix_milestone_state", "state", "incident_id"),  # the board's open milestones (pending, overdue)
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    key: str = Field(max_length=32)
    label: str = Field(default="", max_length=100)
    due_at: datetime = utc_column()
    state: str = Field(default="pending", max_length=16)
    met_at: datetime | None = utc_column(default=None)
    waived_reason: str | None = Field(default=None, max_length=2000)


class TimelineEvent(SQLModel, table=True):
    __table_args__ = (
        Index("ix_timeline_incident_seq", "incident_id", "seq"),
        Index("ix_timeline_incident_kind", "incident_id", "kind", "at"),  # the board's reminder/escalation counts
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    event_key: str = Field(unique=True, max_length=120)
    seq: int
    kind: str = Field(max_length=32)
    actor: str = Field(default="", max_length=64)
    at: datetime = utc_column()
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class NotificationAttempt(SQLModel, table=True):
    """One row per attempt per channel. ``channel`` is apprise's privacy URL: tokens never stored.

    Written through the workflow's record path (so an attempt made while the database was down is logged
    when it is back); ``attempt_key`` (rung, channel, try) makes that write idempotent."""

    __table_args__ = (Index("ix_notification_dedupe", "dedupe_key", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    attempt_key: str | None = Field(default=None, unique=True, max_length=240)
    dedupe_key: str = Field(max_length=160)
    kind: str = Field(max_length=24)
    tags: str = Field(default="", max_length=400)
    channel_id: str = Field(max_length=64)  # hash of the full URL, to tell channels apart without the secret
    channel: str = Field(default="", max_length=500)
    service: str = Field(default="", max_length=64)
    attempt: int = 1
    status: str = Field(max_length=24)  # delivered | accepted_unconfirmed | failed
    error: str = Field(default="", max_length=1000)
    at: datetime = utc_column(default_factory=utcnow)


class NotificationDelivery(SQLModel, table=True):
    """The delivery ledger: one row per rung and channel, claimed before the message is posted.

    The unique (rung, channel) pair is what keeps two senders (a retried activity racing the first) from
    both posting; ``status`` says how far it got: claimed (posting, or the sender died while posting),
    delivered / accepted_unconfirmed, failed (free to claim again)."""

    __table_args__ = (UniqueConstraint("dedupe_key", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)  # None: a handover's
    dedupe_key: str = Field(max_length=160)
    channel_id: str = Field(max_length=64)
    status: str = Field(max_length=24)
    claimed_at: datetime = utc_column(default_factory=utcnow)
    updated_at: datetime = utc_column(default_factory=utcnow)
    attempt: int | None = None  # which try of the message holds or last held the claim (None: before 0016)


class ReleaseTemplate(SQLModel, table=True):
    """A release template per incident category (事实 · 措施 · 结果/进展), edited by an admin; the release form
    offers it. A category without a row uses the built-in one (desk/release_templates.py)."""

    __tablename__ = "release_template"
    category: str = Field(primary_key=True, max_length=32)
    facts: str = Field(default="", max_length=2000)
    measures: str = Field(default="", max_length=2000)
    progress: str = Field(default="", max_length=2000)
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = utc_column(default_factory=utcnow)


class Attachment(SQLModel, table=True):
    """A file kept as evidence (证据/附件): its bytes in the blob store under ``sha256``, never edited or deleted,
    only withdrawn with a reason (and still listed).

    Written by the workflow's record path in the transaction of its ``attachment_added`` event (and the
    withdrawal with its ``attachment_withdrawn``), so there is never a row without its timeline event."""

    __table_args__ = (Index("ix_attachment_incident_created", "incident_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=32)  # in its URL: /api/incidents/{id}/attachments/{key}
    incident_id: int = Field(foreign_key="incident.id")
    sha256: str = Field(max_length=64, index=True)
    size: int
    content_type: str = Field(max_length=100)  # sniffed from the bytes (desk.filetypes)
    name: str = Field(max_length=255)  # as uploaded, shown and offered as the download's name
    thumb_sha256: str | None = Field(default=None, max_length=64)  # a JPEG thumbnail, for images
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = utc_column()
    withdrawn_at: datetime | None = utc_column(default=None)
    withdrawn_by: str | None = Field(default=None, max_length=64)
    withdrawn_reason: str | None = Field(default=None, max_length=5000)


class IncidentSupport(SQLModel, table=True):
    """A supporting party (配合单位) of an incident, with its own acknowledgement clock (the lead's clocks are the
    incident's milestones). The row makes the incident visible to the party's responders."""

    __tablename__ = "supporting_party"
    __table_args__ = (
        UniqueConstraint("incident_id", "party_code"),
        Index("ix_supporting_party_party", "party_code", "incident_id"),  # a responder's incidents
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    party_code: str = Field(foreign_key="party.code", max_length=64)
    n: int  # the order it was added in: names its clock (desk.ids.supporting_clock_key)
    added_at: datetime = utc_column()
    added_by: str = Field(default="", max_length=64)
    # its acknowledgement (the policy's acknowledgement milestone; none when the level has none)
    ack_due_at: datetime | None = utc_column(default=None)
    ack_state: str | None = Field(default=None, max_length=16)
    ack_met_at: datetime | None = utc_column(default=None)
    ack_waived_reason: str | None = Field(default=None, max_length=2000)


class IncidentTask(SQLModel, table=True):
    """A task (督办事项) given to one party of an incident, with its own clock."""

    __tablename__ = "incident_task"
    __table_args__ = (
        UniqueConstraint("incident_id", "n"),
        Index("ix_incident_task_party_state", "party_code", "state", "due_at"),  # a party's open tasks, the board's
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    n: int
    party_code: str = Field(foreign_key="party.code", max_length=64)
    text: str = Field(max_length=5000)
    due_at: datetime = utc_column()
    needs_attachment: bool = False
    state: str = Field(default="pending", max_length=16)
    assigned_by: str = Field(default="", max_length=64)
    assigned_at: datetime = utc_column()
    met_at: datetime | None = utc_column(default=None)
    done_by: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=5000)
    attachment_sha256: str = Field(default="", max_length=64)  # the attachment given as the result (branch attach)
    waived_reason: str | None = Field(default=None, max_length=2000)


class NotificationChannel(SQLModel, table=True):
    """A notification channel an admin added on the admin pages: an apprise URL answering to one tag.

    Delivery uses these beside the ``DESK_NOTIFY_CONFIG`` file. ``url`` holds the secret (a bot key, a
    token): it is read only by delivery and the test message, never shown or logged after saving; the
    pages show ``masked`` (apprise's privacy URL with any remaining secret values masked)."""

    id: int | None = Field(default=None, primary_key=True)
    party_code: str | None = Field(default=None, foreign_key="party.code", max_length=64, index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)  # a person's own channel
    audience: str = Field(max_length=16)  # party | leaders | supervisor (desk.vocab.Audience)
    tag: str = Field(max_length=80)  # what the ladder sends to: <code>, <code>-leaders, supervisor
    url: str = Field(max_length=2000)
    masked: str = Field(max_length=500)
    service: str = Field(default="", max_length=64)
    label: str = Field(default="", max_length=100)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = utc_column(default_factory=utcnow)


class DutyShift(SQLModel, table=True):
    """One person on duty from ``starts_at`` to ``ends_at``: a city duty officer (``party_code`` None, 市值班室)
    or a party's liaison on duty (值班联络员). Imported from the office's spreadsheet or added on the roster
    page (desk/roster.py); a person's shifts never overlap, nor do two liaisons of one party."""

    __table_args__ = (
        Index("ix_dutyshift_party_time", "party_code", "starts_at", "ends_at"),
        Index("ix_dutyshift_user_time", "user_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    party_code: str | None = Field(default=None, foreign_key="party.code", max_length=64)
    user_id: int = Field(foreign_key="user.id")
    starts_at: datetime = utc_column()
    ends_at: datetime = utc_column()
    phone: str = Field(default="", max_length=32)  # as the roster gives it (the user's own phone otherwise)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = utc_column(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """The audit log: every admin action and every login (success, failure, lockout). Append-only: no code
    path updates or deletes a row, and the database refuses it (a trigger, migration 0008)."""

    __table_args__ = (Index("ix_auditentry_at", "at"), Index("ix_auditentry_action_at", "action", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(default_factory=utcnow)
    actor: str = Field(default="", max_length=64)  # who did it (the username tried, for a login)
    action: str = Field(max_length=40)  # desk.vocab.AuditAction
    target: str = Field(default="", max_length=200)  # the user, party or channel it was done to
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # never a secret
    address: str = Field(default="", max_length=64)  # the client's address (logins)
class Handover(SQLModel, table=True):
    """A shift handover (交接班): the note as it was handed over, who handed over and who took over, when.

    Written by the service when handed over; confirmation and escalation by the handover workflow (through
    activities/records.py), so the row says what the workflow decided."""

    __table_args__ = (Index("ix_handover_incoming_status", "incoming", "status"),
                      Index("ix_handover_handed_over_at", "handed_over_at"))

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(unique=True, max_length=64)
    outgoing: str = Field(max_length=64)  # usernames
    incoming: str = Field(max_length=64)
    status: str = Field(default="handed_over", max_length=16)  # desk.vocab.HandoverStatus
    shift_start: datetime = utc_column()  # the period the note covers
    shift_end: datetime = utc_column()
    handed_over_at: datetime = utc_column()
    confirm_due_at: datetime = utc_column()
    remarks: str = Field(default="", max_length=2000)  # the outgoing officer's own words
    note: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # desk.handover.HandoverNote
    confirmed_at: datetime | None = utc_column(default=None)
    escalated_at: datetime | None = utc_column(default=None)
    # Each attempt to tell the supervisor (desk.messages.AttemptLog as JSON), appended once per attempt_key.
    escalation: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ReportRun(SQLModel, table=True):
    """One run of a scheduled report (the weekly summary, the monthly 通报): the period it covers, the file it
    made (a blob, by sha256) and who got it, per channel, when. Written by the report workflow's activities
    (activities/reports.py), keyed by its run (the workflow id: one row per firing of the schedule)."""

    __table_args__ = (Index("ix_reportrun_created_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(unique=True, max_length=200)  # the workflow id
    kind: str = Field(max_length=16)  # desk.vocab.ReportKind
    period: str = Field(max_length=16)  # 2026-W48 / 2026-11
    period_name: str = Field(max_length=100)
    title: str = Field(max_length=300)
    summary: str = Field(default="", max_length=2000)  # the report's first paragraph: said in the message
    filename: str = Field(max_length=200)  # with its extension
    sha256: str = Field(max_length=64)
    size: int = 0
    tags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Each channel's last answer: {channel_id, channel (masked), service, status, error, at, attempt}.
    deliveries: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="made", max_length=16)  # desk.vocab.ReportStatus
    created_at: datetime = utc_column(default_factory=utcnow)
    sent_at: datetime | None = utc_column(default=None)
