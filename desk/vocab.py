"""The desk's fixed values, each an enum of its codes: roles, statuses, milestone states, timeline event kinds,
notification kinds, delivery outcomes, levels, categories, sources, milestone keys.

One module for every side: the API, the activities, the command line and the workflow (which imports it
passed through: nothing here but enums). Members are ``StrEnum``s, so each *is* its code: it compares
equal to, hashes like and serialises as the plain string (in SQL, in JSON, in workflow histories). The
values are stored, so a value never changes; add members, never rename one. Labels: api/web/labels.py,
keyed by these enums.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")  # Beijing time: how every time is shown (stored as UTC)


class Role(StrEnum):
    duty_officer = "duty_officer"  # 值班员: opens incidents, watches the board
    responder = "responder"  # 责任单位: acknowledges and releases for its own party
    supervisor = "supervisor"  # 督办人员: reassigns, changes the level, waives, closes
    admin = "admin"


# Who may do what, by role (the routes and the pages check the same tuples).
EVERYONE = tuple(Role)
OPENERS = (Role.duty_officer, Role.supervisor, Role.admin)  # open an incident
RESPONDERS = (Role.responder, Role.supervisor, Role.admin)  # acknowledge, record releases
SUPERVISORS = (Role.supervisor, Role.admin)  # reassign, change level, waive, close, reopen; the assessment
BOARD_VIEWERS = (Role.supervisor, Role.admin, Role.duty_officer)  # duty officers watch the board read-only
# The duty roster (值班表): the city's duty side reads it and hands shifts over; supervisors and admins keep it.
ROSTER_VIEWERS = (Role.duty_officer, Role.supervisor, Role.admin)
ROSTER_EDITORS = SUPERVISORS
ON_CITY_DUTY = (Role.duty_officer, Role.supervisor, Role.admin)  # who may stand city duty, hand over, take over


SYSTEM = "system"  # the actor of the events the workflow writes on its own (the ladder, deliveries)


class IncidentStatus(StrEnum):
    open = "open"
    closed = "closed"


class MilestoneState(StrEnum):
    pending = "pending"
    overdue = "overdue"
    met = "met"
    met_late = "met_late"
    waived = "waived"


class EventKind(StrEnum):
    """What a timeline row records (``TimelineEvent.kind``)."""

    # people's actions
    opened = "opened"
    acknowledged = "acknowledged"
    released = "released"
    press_conference = "press_conference"
    update = "update"  # a follow-up release
    note = "note"
    reassigned = "reassigned"
    level_changed = "level_changed"
    waived = "waived"
    closed = "closed"
    reopened = "reopened"
    # the ladder and its deliveries
    reminder_sent = "reminder_sent"
    escalated = "escalated"
    escalation_repeated = "escalation_repeated"
    notification_failed = "notification_failed"  # only runs from before "durable-delivery" write it
    channel_failure_escalated = "channel_failure_escalated"
    delivery_recovered = "delivery_recovered"
    notification_cancelled = "notification_cancelled"
    assignment_notified = "assignment_notified"
    urged = "urged"  # the supervisor's 督办, as written
    urge_sent = "urge_sent"  # whom the 【督办】 message reached
    attachment_added = "attachment_added"  # a file kept as evidence (desk.models.Attachment)
    attachment_withdrawn = "attachment_withdrawn"  # withdrawn with a reason; still listed
    # duplicates (SPEC §9): on the incident the action was taken on, and the survivor's side of a merge
    linked = "linked"  # marked as related to another incident (both pages list it; no clock changes)
    merged = "merged"  # closed as merged into another incident: its clocks stop
    merged_from = "merged_from"  # the survivor: another incident was merged into this one
    # shared responsibility (牵头/配合, 督办事项)
    support_added = "support_added"
    task_assigned = "task_assigned"
    task_done = "task_done"


class NotificationKind(StrEnum):
    """What a message says: a rung of a ladder, or an alert about failing channels."""

    reminder = "reminder"
    breach = "breach"
    repeat = "repeat"
    channel_failure = "channel_failure"
    assigned = "assigned"  # 【新交办】: the party (opened, or reassigned to it) hears of the incident at once
    urge = "urge"  # 【督办】: a supervisor's written urge to the party
    handover_unconfirmed = "handover_unconfirmed"  # 【交接班未确认】: a shift handover nobody took over in time


# Why an owed message is no longer due (a "notification_cancelled" event's reason), besides the milestone's
# state (met, met_late, waived) and the incident's (closed): its deadline moved.
RESCHEDULED = "rescheduled"

# The timeline event that records a rung of the ladder having been sent.
RUNG_EVENT = {
    NotificationKind.reminder: EventKind.reminder_sent,
    NotificationKind.breach: EventKind.escalated,
    NotificationKind.repeat: EventKind.escalation_repeated,
}
REMINDER_EVENTS = (EventKind.reminder_sent,)
ESCALATION_EVENTS = (EventKind.escalated, EventKind.escalation_repeated)
FAILURE_EVENTS = (EventKind.notification_failed, EventKind.channel_failure_escalated)


class HandoverStatus(StrEnum):
    """Where a shift handover (交接班) stands; ``escalated`` is still waiting for the incoming officer."""

    handed_over = "handed_over"  # the outgoing officer handed over; the incoming one has not confirmed yet
    escalated = "escalated"  # not confirmed in time: the supervisor was told
    confirmed = "confirmed"


class DeliveryStatus(StrEnum):
    """One channel's answer to one message: the attempt log's ``status``, the ledger's, a send's report."""

    delivered = "delivered"
    accepted_unconfirmed = "accepted_unconfirmed"  # the platform cannot confirm (DingTalk, WeCom, Feishu)
    failed = "failed"
    no_channel = "no_channel"  # no channel configured for the tags
    claimed = "claimed"  # ledger only: a sender is posting it now
    already = "already"  # a send's report only: the ledger had it delivered
    gone = "gone"  # a send's report only: the channel is no longer configured


DELIVERED_STATUSES = (DeliveryStatus.delivered, DeliveryStatus.accepted_unconfirmed)


class ReportKind(StrEnum):
    """The reports the desk sends on a schedule (desk/schedules.py): the week before, the month before."""

    weekly = "weekly"  # the weekly summary: Monday to Sunday
    monthly = "monthly"  # the monthly 通报


class ReportStatus(StrEnum):
    """Where one run of a scheduled report stands (``ReportRun.status``)."""

    made = "made"  # the file is stored, not sent yet
    delivered = "delivered"  # every channel of its tags took it
    partly = "partly"  # some channels took it, some failed after every try
    failed = "failed"  # no channel took it (or none is configured for its tags)


class Level(StrEnum):
    I = "I"  # noqa: E741 (the level's own name)
    II = "II"
    III = "III"
    IV = "IV"


class Category(StrEnum):
    natural_disaster = "natural_disaster"
    accident = "accident"
    public_health = "public_health"
    social_security = "social_security"
    public_opinion = "public_opinion"


# 社会安全事件 and plain 政务舆情 are not graded by law: they take the 一般 clocks unless a level is set.
UNGRADED_CATEGORIES = (Category.social_security, Category.public_opinion)


class Source(StrEnum):
    web = "web"
    weibo = "weibo"
    wechat = "wechat"
    short_video = "short_video"
    hotline_12345 = "hotline_12345"
    leader_mailbox = "leader_mailbox"
    media_visit = "media_visit"
    assigned_from_above = "assigned_from_above"
    other = "other"


class MilestoneKey(StrEnum):
    acknowledge = "acknowledge"
    first_release = "first_release"
    press_conference = "press_conference"
    follow_up = "follow_up"


class Audience(StrEnum):
    """Whom a notification channel on the admin pages reaches: the tag the ladder sends it under."""

    party = "party"  # the party's own messages (tag: its code)
    leaders = "leaders"  # the party's leadership, on breach (tag: <code>-leaders)
    supervisor = "supervisor"  # the city supervisor (tag: supervisor)
    on_duty = "on_duty"  # a person's own channel: their party's messages while they are on duty (tag: <code>-on-duty,
    # which no ladder sends to; delivery looks the person up in the roster, desk.roster.personal_urls_on_duty)


class AuditAction(StrEnum):
    """What an audit log row records (``AuditEntry.action``): logins and admin actions."""

    login_success = "login.success"
    login_failure = "login.failure"
    login_lockout = "login.lockout"  # refused without checking the password: too many failures
    user_added = "user.added"
    user_changed = "user.changed"  # role, party, language, name, phone
    user_password_reset = "user.password_reset"
    user_disabled = "user.disabled"
    user_enabled = "user.enabled"
    party_added = "party.added"
    party_changed = "party.changed"  # renamed or another kind
    party_deactivated = "party.deactivated"
    party_activated = "party.activated"
    party_deleted = "party.deleted"  # only one that never had an incident
    parties_imported = "parties.imported"
    channel_added = "channel.added"
    channel_removed = "channel.removed"
    channel_tested = "channel.tested"


AUDIT_READERS = (Role.supervisor, Role.admin)  # the audit log; everything else on the admin pages: admins only
