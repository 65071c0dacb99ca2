"""Names of codes as people read them. Msgids in English; the zh_CN catalog gives the Chinese."""

from __future__ import annotations

from api.web.i18n import N_
from desk.vocab import (
    RESCHEDULED,
    Category,
    DeliveryStatus,
    EventKind,
    HandoverStatus,
    IncidentStatus,
    Level,
    MilestoneKey,
    MilestoneState,
    NotificationKind,
    Role,
    Source,
)

LEVELS = {
    Level.I: N_("Especially serious (I)"),
    Level.II: N_("Serious (II)"),
    Level.III: N_("Relatively serious (III)"),
    Level.IV: N_("General (IV)"),
}
CATEGORIES = {
    Category.natural_disaster: N_("Natural disaster"),
    Category.accident: N_("Accident or disaster"),
    Category.public_health: N_("Public health event"),
    Category.social_security: N_("Social security event"),
    Category.public_opinion: N_("Government affairs opinion / media concern"),
}
SOURCES = {
    Source.web: N_("Online media"),
    Source.weibo: N_("Weibo"),
    Source.wechat: N_("WeChat"),
    Source.short_video: N_("Douyin / short video"),
    Source.hotline_12345: N_("12345 hotline"),
    Source.leader_mailbox: N_("Leader's mailbox"),
    Source.media_visit: N_("Media visit"),
    Source.assigned_from_above: N_("Assigned from above"),
    Source.other: N_("Other"),
}
MILESTONES = {
    MilestoneKey.acknowledge: N_("Acknowledgement by the responsible party"),
    MilestoneKey.first_release: N_("Authoritative information released"),
    MilestoneKey.press_conference: N_("Press conference held"),
    MilestoneKey.follow_up: N_("Follow-up release"),
}
MILESTONE_STATES = {
    MilestoneState.pending: N_("Pending"),
    MilestoneState.overdue: N_("Overdue"),
    MilestoneState.met: N_("Met on time"),
    MilestoneState.met_late: N_("Met late"),
    MilestoneState.waived: N_("Waived"),
}
STATUSES = {IncidentStatus.open: N_("Open"), IncidentStatus.closed: N_("Closed")}
ROLES = {
    Role.duty_officer: N_("Duty officer"),
    Role.responder: N_("Responder"),
    Role.supervisor: N_("Supervisor"),
    Role.admin: N_("Administrator"),
}
EVENTS = {
    EventKind.opened: N_("Incident opened"),
    EventKind.acknowledged: N_("Acknowledged"),
    EventKind.released: N_("Authoritative information released"),
    EventKind.press_conference: N_("Press conference held"),
    EventKind.update: N_("Follow-up release"),
    EventKind.note: N_("Note"),
    EventKind.reassigned: N_("Reassigned"),
    EventKind.level_changed: N_("Level changed"),
    EventKind.waived: N_("Milestone waived"),
    EventKind.closed: N_("Closed"),
    EventKind.reopened: N_("Reopened"),
    EventKind.reminder_sent: N_("Reminder sent"),
    EventKind.escalated: N_("Deadline missed: escalated"),
    EventKind.escalation_repeated: N_("Escalated again"),
    EventKind.notification_failed: N_("Notification failed"),
    EventKind.channel_failure_escalated: N_("Failing channel reported to the supervisor"),
    EventKind.delivery_recovered: N_("Owed notification delivered"),
    EventKind.notification_cancelled: N_("Owed notification no longer due"),
    EventKind.assignment_notified: N_("New assignment: the party notified"),
    EventKind.urged: N_("Urged"),
    EventKind.urge_sent: N_("Urge delivered to the party"),
}
# Why an owed message is no longer due (the "notification_cancelled" event's reason).
OWED_ENDED = {
    MilestoneState.met: N_("milestone met"),
    MilestoneState.met_late: N_("milestone met late"),
    MilestoneState.waived: N_("milestone waived"),
    IncidentStatus.closed: N_("incident closed"),
    RESCHEDULED: N_("deadline changed"),
    EventKind.reassigned: N_("incident reassigned"),
}
NOTIFICATION_KINDS = {
    NotificationKind.reminder: N_("Reminder"),
    NotificationKind.breach: N_("Escalation"),
    NotificationKind.repeat: N_("Repeated escalation"),
    NotificationKind.channel_failure: N_("Channel failure alert"),
    NotificationKind.assigned: N_("New assignment"),
    NotificationKind.urge: N_("Urge"),
    NotificationKind.handover_unconfirmed: N_("Handover not confirmed"),
}
HANDOVER_STATUSES = {
    HandoverStatus.handed_over: N_("Waiting for the incoming officer"),
    HandoverStatus.escalated: N_("Not confirmed in time: supervisor told"),
    HandoverStatus.confirmed: N_("Taken over"),
}
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))
# The roster spreadsheet's columns (desk.roster.COLUMNS), by the header the sheet uses.
ROSTER_COLUMNS = {
    "日期": N_("Date"),
    "开始时间": N_("Start time"),
    "结束时间": N_("End time"),
    "单位": N_("Unit"),
    "值班人员": N_("Person on duty"),
    "电话": N_("Phone"),
}
DELIVERY = {
    DeliveryStatus.delivered: N_("Delivered"),
    DeliveryStatus.accepted_unconfirmed: N_("Accepted (platform cannot confirm)"),
    DeliveryStatus.failed: N_("Failed"),
    DeliveryStatus.no_channel: N_("No channel configured"),
}
RELEASE_CHANNELS = (
    N_("Government website"),
    N_("Government Weibo"),
    N_("Government WeChat account"),
    N_("Douyin government account"),
    N_("Press release to the media"),
)

# The list of milestones in a refusal, e.g. "acknowledgement, first release".
LIST_SEPARATOR = N_(", ")

# Messages the request schemas (desk.inputs, api.schemas) write in Chinese, said in the catalog's words, so an
# English page shows English. Anything not listed is shown as it came. (The workflow's refusals have codes:
# ERROR_MESSAGES below.)
KNOWN_MESSAGES = {
    "请填写标题": N_("Enter a title."),
    "必填": N_("This field is required."),
    "链接须以 http:// 或 https:// 开头，或直接填写网址（如 www.bazhong.gov.cn/…）": N_(
        "A link starts with http:// or https://, or is a web address such as www.bazhong.gov.cn/…"),
    "发现时间不能晚于当前时间": N_("The detected time cannot be later than now."),
    "请选择事件级别（自然灾害、事故灾难、公共卫生事件须定级）": N_(
        "Choose a level: natural disasters, accidents and public health events must be graded."),
    "不能包含空字符（NUL）": N_("Remove the invalid (NUL) character."),
    "发布时间不能晚于当前时间": N_("The release time cannot be later than now."),
    "请填写备注内容": N_("Enter the note."),
    "请填写理由": N_("Enter the reason."),
}

# The incident service's refusals (desk.errors) and the workflow's (desk.refusals), by their code; params fill
# the %(name)s (milestones and levels by their names in the catalog: api.web.views.desk_error_text).
ERROR_MESSAGES = {
    "search.too_long": N_("The search words are too long: at most %(n)s characters."),
    "search.nul": N_("Remove the invalid (NUL) character from the search words."),
    "search.dates_reversed": N_("The end date is before the start date; swap them or choose again."),
    "incident.not_found": N_("There is no incident numbered %(id)s."),
    "role.forbidden": N_("Your role cannot take this action."),
    "party.unknown": N_("Choose the responsible party from the list."),
    "release.before_detected": N_("The release time is earlier than the detected time; check it and enter it again."),
    "holidays.unknown_year": N_("A working-day deadline would fall in %(year)s, whose official holidays the desk does "
                                "not know yet: ask the administrator to upgrade chinese-calendar or to add the year "
                                "to the DESK_HOLIDAYS file."),
    "workflow.ended": N_("The handling of this incident has ended (closed for longer than it can be reopened); "
                         "it cannot be changed any more."),
    "engine.unavailable": N_("The workflow engine cannot be reached right now; nothing was changed. Try again shortly."),
    "incident.closed": N_("The incident is closed; reopen it first to continue."),
    "reopen.not_closed": N_("The incident is not closed; there is nothing to reopen."),
    "acknowledge.already_done": N_("This incident has already been acknowledged."),
    "release.unknown_kind": N_("Unknown kind of release: %(kind)s."),
    "release.time_without_zone": N_("The release time must include a time zone."),
    "release.in_future": N_("The release time cannot be later than now."),
    "release.first_missing": N_("No authoritative release has been recorded yet: record the first release first."),
    "note.empty": N_("Enter the note."),
    "urge.empty": N_("Write what the party must do."),
    "urge.unsupported": N_("This incident runs on an older version of the desk that cannot send an urge; add a note instead."),
    "reassign.same_party": N_("This party is already responsible for the incident."),
    "level.unknown": N_("Unknown level: %(level)s."),
    "level.unchanged": N_("The incident already has this level."),
    "waive.unknown_milestone": N_("This incident has no milestone “%(milestone)s”."),
    "waive.not_open": N_("“%(milestone)s” is already met or waived."),
    "close.blocked": N_("Cannot close: %(milestones)s not done yet. Meet them first, or waive them with approval "
                        "(a reason is required)."),
    "reason.missing": N_("Enter the reason."),
    "reason.too_long": N_("The reason is too long: at most %(max)s characters."),
    "text.too_long": N_("Too long (%(field)s): at most %(max)s characters."),
    # the duty roster (desk.roster): a file's problems name its row and column
    "roster.no_file": N_("Choose the roster file to import."),
    "roster.file_type": N_("Upload the roster as an .xlsx or .csv file."),
    "roster.too_big": N_("The file is too large (over %(mb)s MB): import only the period you need."),
    "roster.unreadable": N_("The file could not be read (%(kind)s): save it from Excel as .xlsx or .csv and try again."),
    "roster.empty": N_("The roster has no shifts."),
    "roster.too_many_rows": N_("The roster has more than %(max)s rows: import it in parts."),
    "roster.missing_column": N_("The header row (row %(row)s) has no “%(column)s” column."),
    "roster.missing_value": N_("Row %(row)s, column %(col)s (%(header)s) is empty."),
    "roster.bad_date": N_("Row %(row)s, column %(col)s (%(header)s): “%(value)s” is not a date; write it as 2026-12-01."),
    "roster.bad_time": N_("Row %(row)s, column %(col)s (%(header)s): “%(value)s” is not a time; write it as 08:30."),
    "roster.same_time": N_("Row %(row)s: the shift ends when it starts."),
    "roster.unknown_party": N_("Row %(row)s, column %(col)s (%(header)s): there is no party “%(value)s”; write the "
                               "party's full name or code, or city for the city duty office."),
    "roster.unknown_person": N_("Row %(row)s, column %(col)s (%(header)s): there is no active account “%(value)s”; "
                                "write the user name or the person's name."),
    "roster.ambiguous_person": N_("Row %(row)s, column %(col)s (%(header)s): “%(value)s” names several accounts; "
                                  "write the user name instead."),
    "roster.not_liaison": N_("Row %(row)s: %(person)s is not a liaison of %(party)s and cannot stand its duty."),
    "roster.not_city_duty": N_("Row %(row)s: %(person)s is a party's liaison and cannot stand city duty."),
    "roster.overlap_person": N_("Rows %(first)s and %(row)s: %(person)s has two shifts at the same time."),
    "roster.overlap_party": N_("Rows %(first)s and %(row)s: %(party)s has two liaisons on duty at the same time."),
    "roster.more_problems": N_("And %(n)s more problems not listed."),
    "shift.ends_before_start": N_("The end must be later than the start."),
    "shift.too_long": N_("A shift cannot be longer than 48 hours."),
    "shift.unknown_person": N_("Choose the person on duty from the list."),
    "shift.not_liaison": N_("%(person)s is not a liaison of %(party)s and cannot stand its duty."),
    "shift.not_city_duty": N_("%(person)s is a party's liaison and cannot stand city duty."),
    "shift.overlap_person": N_("%(person)s is already on duty from %(start)s to %(end)s."),
    "shift.overlap_party": N_("%(party)s already has a liaison on duty from %(start)s to %(end)s (%(person)s)."),
    "shift.not_found": N_("There is no shift numbered %(id)s."),
    # the shift handover (desk.handover, workflows/handover.py)
    "handover.not_found": N_("There is no handover numbered %(id)s."),
    "handover.unknown_incoming": N_("Choose who takes over from the list."),
    "handover.to_self": N_("You cannot hand over to yourself: choose who takes over."),
    "handover.pending": N_("You handed over to %(incoming)s, who has not confirmed yet; you can hand over again once "
                           "they have."),
    "handover.already_confirmed": N_("This handover has already been taken over."),
    "handover.not_incoming": N_("This handover is addressed to %(incoming)s: only they can take it over."),
    "input.nul": N_("Remove the invalid (NUL) character."),
}
