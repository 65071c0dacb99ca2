"""Dataclass messages between the API, the workflow and the activities.

One dataclass per workflow input, update and activity, so fields can be added later without breaking
running workflows (new fields must have defaults).
"""

# Annotations stay real objects (no `from __future__ import annotations`): Temporal's workflow sandbox
# cannot resolve string annotations of these dataclasses when it decodes a continued run's input.

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desk.clocks import MilestoneClock
from desk.policy import Policy, shared
from desk.vocab import IncidentStatus

OPEN, CLOSED = IncidentStatus.open, IncidentStatus.closed  # the workflow's state.status

# Error types the workflow raises from update validators; the API maps them to HTTP status codes.
INVALID = "InvalidAction"  # 422: the request itself is wrong (time before detection, unknown milestone)
CONFLICT = "StateConflict"  # 409: the incident's state forbids it (closing with an open milestone)


@dataclass
class IncidentFacts:
    """What the incident is; changes only by reassignment or level change."""

    incident_id: int
    human_id: str
    title: str
    category: str
    level: str
    party_code: str
    party_name: str
    detected_at: datetime
    opened_at: datetime
    reporter: str
    drill: bool = False
    summary: str = ""
    source: str = "other"
    source_url: str = ""


@dataclass
class TimelineEntry:
    event_key: str  # names the event (update id, or rung and kind): written twice, it is the same event
    seq: int  # the order in which things happened in the workflow
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class AttemptLog:
    """One attempt to post one message to one channel (a row of the notification log)."""

    attempt_key: str  # dedupe key / channel / try: the same attempt logged twice is one row
    dedupe_key: str
    kind: str
    tags: str
    channel_id: str
    channel: str
    service: str
    attempt: int
    status: str  # delivered | accepted_unconfirmed | failed | no_channel
    error: str
    at: datetime


@dataclass
class Owed:
    """A message that some channels could not take yet: owed to them until delivered or no longer due."""

    rung_key: str  # as in the rung's dedupe key, e.g. "acknowledge/g1/breach" or ".../channel-failure"
    milestone: str
    kind: str  # reminder | breach | repeat | channel_failure
    tags: list[str]
    channels: list[str]  # channel ids still owed
    first_failed_at: datetime
    next_try_at: datetime
    tries: int = 1  # attempts made so far (the first send included)
    last_error: str = ""
    alerted: bool = False  # the supervisor was told that these channels keep failing
    detail: str = ""


@dataclass
class Notice:
    """A message a person's action or an assignment makes due at once (not a rung of a deadline's ladder)."""

    key: str  # desk.ids: assigned/<n>/<party> or urge/<n>
    kind: str  # NotificationKind: assigned | urge
    detail: str = ""  # the deadlines (assigned), the supervisor's words (urge)
    actor: str = ""


@dataclass
class SupportingParty:
    """A supporting party (配合单位) of an incident: sees it, acknowledges on its own clock
    (``desk.ids.supporting_clock_key(n)``), adds notes and task results; releases stay with the lead."""

    n: int  # 1, 2, … in the order added: names its clock
    party_code: str
    party_name: str
    added_at: datetime
    added_by: str


@dataclass
class Task:
    """A task (督办事项) given to one party, with a clock of its own (``desk.ids.task_clock_key(n)``)."""

    n: int
    party_code: str
    party_name: str
    text: str
    due_at: datetime
    assigned_by: str
    assigned_at: datetime
    needs_attachment: bool = False  # done only with a file (an attachment's sha256)
    done_by: str = ""
    done_note: str = ""
    attachment: str = ""  # sha256 of the file given as the result (the attachments' own record holds the file)


@dataclass
class IncidentState:
    facts: IncidentFacts
    status: str = OPEN
    clocks: list[MilestoneClock] = field(default_factory=list)
    event_seq: int = 0  # timeline events so far (written or still in the outbox)
    closed_at: datetime | None = None
    follow_up_generation: int = 0
    # Since "durable-delivery": what the database has not taken yet (written in order when it is back),
    # and what channels are still owed. Both are carried across continue-as-new.
    outbox: list[TimelineEntry] = field(default_factory=list)
    attempts: list[AttemptLog] = field(default_factory=list)
    written_seq: int = 0  # every event up to this seq is in SQL
    owed: list[Owed] = field(default_factory=list)
    notices_due: list[Notice] = field(default_factory=list)  # 【新交办】 and 【督办】 messages still to send
    assignments_made: int = 0  # how many times the incident was given to a party (opening counts as one)
    urges_made: int = 0
    withdrawn_attachments: list[str] = field(default_factory=list)  # keys: an attachment is withdrawn once
    related: list[str] = field(default_factory=list)  # human ids this incident was linked to (SPEC §9)
    merged_into: str = ""  # the human id it was merged into: closed for good, its clocks stopped
    supporting: list[SupportingParty] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)


@dataclass
class IncidentInput:
    facts: IncidentFacts
    policy: Policy
    public_url: str = ""
    state: IncidentState | None = None  # carried over by continue-as-new
    opened_recorded: bool = False  # the API already wrote the "opened" event (seq 1) with the row
    supporting: list[SupportingParty] = field(default_factory=list)  # named at opening (their clocks from detection)
    # The patches the code that started (or continued) this run had, by level (workflows.incident.PATCH_LEVEL):
    # a run at a level takes them without a marker. 0: a run started before the level was carried.
    patch_level: int = 0

    def __post_init__(self) -> None:
        # Decoded for every cached workflow instance: equal policies become one object (desk.policy.shared).
        if isinstance(self.policy, Policy):
            self.policy = shared(self.policy)


# --- human actions (workflow updates) -------------------------------------------------------------
# Each carries ``received_at``: when the API received it. The workflow dates the action by it (bounded by
# its own clock), so an acknowledgement clicked in time is on time even if a worker restart delays it.


@dataclass
class Acknowledge:
    actor: str
    note: str = ""
    received_at: datetime | None = None
    party_code: str = ""  # the acknowledging responder's party: a supporting party meets its own clock


@dataclass
class AddSupport:
    """Add a supporting party (配合单位) to the incident."""

    actor: str
    party_code: str
    party_name: str
    received_at: datetime | None = None


@dataclass
class AssignTask:
    """A task (督办事项) for one party, by a supervisor or by the lead party (``by_party``)."""

    actor: str
    party_code: str
    party_name: str
    text: str
    due_at: datetime
    needs_attachment: bool = False
    by_party: str = ""  # the assigning responder's party ("" for a supervisor)
    received_at: datetime | None = None


@dataclass
class CompleteTask:
    """The task's party says it is done, with a note or a file (an attachment's sha256)."""

    actor: str
    task: int
    note: str = ""
    attachment: str = ""
    by_party: str = ""  # the completing responder's party ("" for a supervisor)
    received_at: datetime | None = None


@dataclass
class RecordRelease:
    """An authoritative release (权威信息发布), a press conference, or a follow-up update."""

    actor: str
    kind: str = "release"  # release | press_conference | update
    released_at: datetime | None = None  # when it happened; defaults to now
    channel: str = ""
    url: str = ""
    summary: str = ""
    received_at: datetime | None = None
    facts: str = ""  # 事实 · 措施 · 结果/进展 (desk/release_content.py); empty in histories from before them
    measures: str = ""
    progress: str = ""


@dataclass
class Urge:
    """督办/催办: a supervisor's written urge to the responsible party, sent through its channels and recorded."""

    actor: str
    text: str
    received_at: datetime | None = None


@dataclass
class AttachmentFile:
    """One file kept as evidence: its bytes are in the blob store already, under ``sha256``."""

    key: str  # desk.ids.attachment_key
    sha256: str
    size: int
    content_type: str  # sniffed from the bytes
    name: str
    thumb_sha256: str = ""


@dataclass
class AddAttachments:
    """Files uploaded together: one ``attachment_added`` event each, all or none."""

    actor: str
    files: list[AttachmentFile] = field(default_factory=list)
    received_at: datetime | None = None


@dataclass
class WithdrawAttachment:
    """Evidence is never deleted: it is withdrawn with a reason, and still listed."""

    actor: str
    key: str
    name: str
    sha256: str
    reason: str
    received_at: datetime | None = None


@dataclass
class AddNote:
    actor: str
    text: str
    received_at: datetime | None = None


@dataclass
class Reassign:
    actor: str
    party_code: str
    party_name: str
    reason: str
    received_at: datetime | None = None


@dataclass
class ChangeLevel:
    actor: str
    level: str
    reason: str
    received_at: datetime | None = None


@dataclass
class Waive:
    actor: str
    milestone: str
    reason: str
    received_at: datetime | None = None


@dataclass
class LinkRelated:
    """Mark another incident as related (the same topic from another source, say): no clock changes."""

    actor: str
    other: str  # its human id
    other_id: int  # its row id (the link row is written with the event)
    other_title: str = ""
    reason: str = ""
    received_at: datetime | None = None


@dataclass
class MergeInto:
    """Close this incident as a duplicate of another (the survivor); its clocks stop."""

    actor: str
    into: str  # the survivor's human id
    into_workflow_id: str  # told through a signal, so its timeline says what was merged into it
    into_title: str = ""
    reason: str = ""
    received_at: datetime | None = None


@dataclass
class MergedFrom:
    """To the survivor: this incident was merged into it (a signal; its timeline records it)."""

    actor: str
    human_id: str
    title: str
    at: datetime
    reason: str = ""


@dataclass
class Close:
    actor: str
    reason: str = ""
    received_at: datetime | None = None


@dataclass
class Reopen:
    actor: str
    reason: str
    received_at: datetime | None = None


# --- activities -------------------------------------------------------------------------------------


@dataclass
class RecordEvent:
    """Write one timeline event and the incident's read model, in one transaction (runs before
    "durable-delivery")."""

    state: IncidentState
    entry: TimelineEntry
    policy_name: str = ""


@dataclass
class RecordBatch:
    """Write the outbox: timeline events (in seq order), notification attempts, the read model; one
    transaction. ``state`` is sent without its outbox (the entries travel once, here)."""

    state: IncidentState
    entries: list[TimelineEntry]
    attempts: list[AttemptLog] = field(default_factory=list)
    policy_name: str = ""


@dataclass
class Notify:
    """Send one rung of a ladder (or a channel-failure alert) to every channel with these tags."""

    dedupe_key: str  # incident + rung: a channel that already got it is never sent it again
    incident_id: int
    human_id: str
    title: str
    level: str
    party_name: str
    kind: str  # reminder | breach | repeat | channel_failure
    tags: list[str]
    milestone: str = ""
    milestone_label: str = ""
    due_at: datetime | None = None
    drill: bool = False
    link: str = ""
    detail: str = ""


@dataclass
class ChannelResult:
    channel_id: str
    status: str  # delivered | accepted_unconfirmed | failed | already (the ledger had it) | gone (not configured now)
    service: str = ""
    channel: str = ""  # apprise's privacy URL, secrets masked
    error: str = ""
    at: datetime | None = None


@dataclass
class Delivered:
    matched: int = 0  # channels configured for these tags
    results: list[ChannelResult] = field(default_factory=list)


@dataclass
class Deliver(Notify):
    """Post one message (a rung, or a channel-failure alert) to the channels of these tags that have not
    taken it yet: all of them (``channels`` None) on the first try, the owed ones after. ``dedupe_key``
    (workflow id / rung key) names the ledger's (rung, channel) pairs and the message's id."""

    channels: list[str] | None = None
    attempt: int = 1


@dataclass
class NotifyOutcome:
    delivered: int = 0  # channels that confirmed delivery (or accepted it, where the platform cannot confirm)
    skipped: int = 0  # channels that had already received this rung
    matched: int = 0  # channels configured for these tags


# --- shift handover (交接班): workflows/handover.py ------------------------------------------------------


@dataclass
class HandoverInput:
    """A handed-over shift: who must confirm it by when, and whom to tell if nobody does."""

    handover_id: int
    outgoing: str  # usernames
    incoming: str
    handed_over_at: datetime
    confirm_within_seconds: int  # the policy's handover.confirm_within
    escalate_to: list[str]  # tags
    outgoing_name: str = ""
    incoming_name: str = ""
    link: str = ""
    retry_first_seconds: int = 30  # the policy's delivery backoff, for a channel that fails
    retry_max_seconds: int = 600


@dataclass
class ConfirmHandover:
    actor: str
    received_at: datetime | None = None


@dataclass
class HandoverRecord:
    """What the handover workflow decided, for its row: confirmed, or escalated and each attempt to say so."""

    handover_id: int
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    escalated_at: datetime | None = None
    attempts: list[AttemptLog] = field(default_factory=list)


# --- scheduled reports: workflows/report.py ---------------------------------------------------------------


@dataclass
class ReportInput:
    """What a schedule starts: which report, to whom (apprise tags), in which format; links start with
    ``public_url``. The period is the last whole week or month before the run (desk.periods)."""

    kind: str  # desk.vocab.ReportKind
    tags: list[str]
    format: str = "docx"  # docx | pdf
    public_url: str = ""


@dataclass
class MakeReport:
    run_key: str  # the workflow id: one row, one file per run, however often the activity is retried
    kind: str
    period: str  # 2026-W48 / 2026-11
    period_name: str
    start: str  # first and last Beijing calendar day, ISO (Temporal's JSON has no date)
    end: str
    tags: list[str]
    format: str
    public_url: str


@dataclass
class ReportMade:
    run_id: int
    title: str
    summary: str  # the 通报's first paragraph: the period's figures in one sentence
    filename: str  # with its extension
    link: str  # the file, behind the desk's login


@dataclass
class SendReport:
    run_id: int
    run_key: str
    tags: list[str]
    title: str
    summary: str
    link: str
    max_attempts: int = 1  # the last try reports what failed instead of raising for another


@dataclass
class ReportSent:
    status: str  # desk.vocab.ReportStatus
    delivered: int = 0
    failed: int = 0
