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
