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
from desk.policy import Policy

OPEN, CLOSED = "open", "closed"

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
class IncidentState:
    facts: IncidentFacts
    status: str = OPEN
    clocks: list[MilestoneClock] = field(default_factory=list)
    event_seq: int = 0  # timeline events written so far; the next event key uses event_seq + 1
    closed_at: datetime | None = None
    follow_up_generation: int = 0


@dataclass
class IncidentInput:
    facts: IncidentFacts
    policy: Policy
    public_url: str = ""
    state: IncidentState | None = None  # carried over by continue-as-new
    opened_recorded: bool = False  # the API already wrote the "opened" event (seq 1) with the row


# --- human actions (workflow updates) -------------------------------------------------------------


@dataclass
class Acknowledge:
    actor: str
    note: str = ""


@dataclass
class RecordRelease:
    """An authoritative release (权威信息发布), a press conference, or a follow-up update."""

    actor: str
    kind: str = "release"  # release | press_conference | update
    released_at: datetime | None = None  # when it happened; defaults to now
    channel: str = ""
    url: str = ""
    summary: str = ""


@dataclass
class AddNote:
    actor: str
    text: str


@dataclass
class Reassign:
    actor: str
    party_code: str
    party_name: str
    reason: str


@dataclass
class ChangeLevel:
    actor: str
    level: str
    reason: str


@dataclass
class Waive:
    actor: str
    milestone: str
    reason: str


@dataclass
class Close:
    actor: str
    reason: str = ""


@dataclass
class Reopen:
    actor: str
    reason: str


# --- activities -------------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    event_key: str  # unique: a retried activity never writes the same event twice
    seq: int
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordEvent:
    """Write one timeline event and the incident's read model, in one transaction."""

    state: IncidentState
    entry: TimelineEntry
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
class NotifyOutcome:
    delivered: int = 0  # channels that confirmed delivery (or accepted it, where the platform cannot confirm)
    skipped: int = 0  # channels that had already received this rung
    matched: int = 0  # channels configured for these tags
