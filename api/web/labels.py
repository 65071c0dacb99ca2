"""Names of codes as people read them. Msgids in English; the zh_CN catalog gives the Chinese.

The maps are written with desk.vocab's enum members as keys but typed ``dict[str, str]``: a member is its code
(StrEnum), so a plain code read from a row (``Incident.level`` is a ``str``) finds the same entry.
"""

from __future__ import annotations

from api.web.i18n import N_
from desk.vocab import (
    RESCHEDULED,
    Audience,
    AuditAction,
    Category,
    DeliveryStatus,
    EventKind,
    HandoverStatus,
    IncidentStatus,
    Level,
    MilestoneKey,
    MilestoneState,
    NotificationKind,
    ReportKind,
    ReportStatus,
    Role,
    Source,
)

LEVELS: dict[str, str] = {
    Level.I: N_("Especially serious (I)"),
    Level.II: N_("Serious (II)"),
    Level.III: N_("Relatively serious (III)"),
    Level.IV: N_("General (IV)"),
}
CATEGORIES: dict[str, str] = {
    Category.natural_disaster: N_("Natural disaster"),
    Category.accident: N_("Accident or disaster"),
    Category.public_health: N_("Public health event"),
    Category.social_security: N_("Social security event"),
    Category.public_opinion: N_("Government affairs opinion / media concern"),
}
SOURCES: dict[str, str] = {
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
MILESTONES: dict[str, str] = {
    MilestoneKey.acknowledge: N_("Acknowledgement by the responsible party"),
    MilestoneKey.first_release: N_("Authoritative information released"),
    MilestoneKey.press_conference: N_("Press conference held"),
    MilestoneKey.follow_up: N_("Follow-up release"),
}
MILESTONE_STATES: dict[str, str] = {
    MilestoneState.pending: N_("Pending"),
    MilestoneState.overdue: N_("Overdue"),
    MilestoneState.met: N_("Met on time"),
    MilestoneState.met_late: N_("Met late"),
    MilestoneState.waived: N_("Waived"),
}
STATUSES: dict[str, str] = {IncidentStatus.open: N_("Open"), IncidentStatus.closed: N_("Closed")}
ROLES: dict[str, str] = {
    Role.duty_officer: N_("Duty officer"),
    Role.responder: N_("Responder"),
    Role.supervisor: N_("Supervisor"),
    Role.admin: N_("Administrator"),
}
# The three parts of a release (desk/release_content.PARTS), as the form and the timeline name them.
RELEASE_PARTS = {"facts": N_("Facts (what happened)"), "measures": N_("Measures (what is being done)"),
                 "progress": N_("Outcome / progress so far")}

# What each placeholder of a release template (desk/release_content.PLACEHOLDERS) is filled with.
PLACEHOLDERS = {"title": N_("the incident's title"), "party": N_("the responsible party's name"),
                "detected_at": N_("when it was detected (Beijing time)"), "category": N_("the category"),
                "level": N_("the level"), "incident_id": N_("the incident number (YQ-…)")}

EVENTS: dict[str, str] = {
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
    EventKind.attachment_added: N_("File added as evidence"),
    EventKind.attachment_withdrawn: N_("File withdrawn"),
    EventKind.linked: N_("Linked as related"),
    EventKind.merged: N_("Merged into another incident"),
    EventKind.merged_from: N_("Another incident merged into this one"),
    EventKind.support_added: N_("Supporting party added"),
    EventKind.task_assigned: N_("Task assigned"),
    EventKind.task_done: N_("Task done"),
}
# Why an owed message is no longer due (the "notification_cancelled" event's reason).
OWED_ENDED: dict[str, str] = {
    MilestoneState.met: N_("milestone met"),
    MilestoneState.met_late: N_("milestone met late"),
    MilestoneState.waived: N_("milestone waived"),
    IncidentStatus.closed: N_("incident closed"),
    RESCHEDULED: N_("deadline changed"),
    EventKind.reassigned: N_("incident reassigned"),
}
NOTIFICATION_KINDS: dict[str, str] = {
    NotificationKind.reminder: N_("Reminder"),
    NotificationKind.breach: N_("Escalation"),
    NotificationKind.repeat: N_("Repeated escalation"),
    NotificationKind.channel_failure: N_("Channel failure alert"),
    NotificationKind.assigned: N_("New assignment"),
    NotificationKind.urge: N_("Urge"),
    NotificationKind.handover_unconfirmed: N_("Handover not confirmed"),
}
HANDOVER_STATUSES: dict[str, str] = {
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
PARTY_KINDS = {
    "county": N_("County or district government"),
    "department": N_("City department"),
    "coordinator": N_("Coordinator"),
}
AUDIENCES: dict[str, str] = {
    Audience.party: N_("The party's reminders and escalations"),
    Audience.leaders: N_("The party's leadership (on a missed deadline)"),
    Audience.supervisor: N_("The city supervisor"),
    Audience.on_duty: N_("The person themself, while on duty (the roster)"),
}
AUDIT_ACTIONS: dict[str, str] = {
    AuditAction.login_success: N_("Logged in"),
    AuditAction.login_failure: N_("Login failed (wrong user name or password)"),
    AuditAction.login_lockout: N_("Login refused (too many failures)"),
    AuditAction.user_added: N_("User added"),
    AuditAction.user_changed: N_("User changed"),
    AuditAction.user_password_reset: N_("Password reset"),
    AuditAction.user_disabled: N_("User disabled"),
    AuditAction.user_enabled: N_("User enabled"),
    AuditAction.party_added: N_("Party added"),
    AuditAction.party_changed: N_("Party renamed or changed"),
    AuditAction.party_deactivated: N_("Party deactivated"),
    AuditAction.party_activated: N_("Party activated"),
    AuditAction.party_deleted: N_("Party deleted"),
    AuditAction.parties_imported: N_("Parties imported"),
    AuditAction.channel_added: N_("Channel added"),
    AuditAction.channel_removed: N_("Channel removed"),
    AuditAction.channel_tested: N_("Test message sent"),
}
AUDIT_FAMILIES = {"login": N_("Logins"), "user": N_("Users"), "party": N_("Parties"), "channel": N_("Channels")}
DELIVERY: dict[str, str] = {
    DeliveryStatus.delivered: N_("Delivered"),
    DeliveryStatus.accepted_unconfirmed: N_("Accepted (platform cannot confirm)"),
    DeliveryStatus.failed: N_("Failed"),
    DeliveryStatus.no_channel: N_("No channel configured"),
}
REPORT_KINDS: dict[str, str] = {
    ReportKind.weekly: N_("Weekly summary"),
    ReportKind.monthly: N_("Monthly bulletin"),
}
REPORT_STATUSES: dict[str, str] = {
    ReportStatus.made: N_("Made, not sent yet"),
    ReportStatus.delivered: N_("Sent to every channel"),
    ReportStatus.partly: N_("Some channels did not take it"),
    ReportStatus.failed: N_("Not delivered"),
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
    "请选择要豁免的时限": N_("Choose the deadline to waive."),
    "完成时限必须晚于当前时间": N_("The due time must be later than now."),
    "请填写督办事项的内容": N_("Write what the party must do."),
    "附件须以其 sha256（64 位十六进制）指明": N_("Name the attachment by its sha256 (64 hexadecimal characters)."),
}

# The incident service's refusals (desk.errors) and the workflow's (desk.refusals), by their code; params fill
# the %(name)s (milestones and levels by their names in the catalog: api.web.views.desk_error_text).
ERROR_MESSAGES = {
    "password.too_short": N_("Password: at least %(n)s characters."),
    "password.weak": N_("Password: too weak. Mix letters with digits or symbols, and do not include the user name."),
    "user.name_invalid": N_("User name: 2 to 64 letters, digits, dots, underscores or hyphens, starting with a letter "
                            "or digit."),
    "user.duplicate": N_("User name: %(username)s is already taken; choose another."),
    "user.role_unknown": N_("Role: choose one of the listed roles."),
    "user.party_missing": N_("Party: a responder belongs to one party; choose it."),
    "user.language_unknown": N_("Language: choose Chinese or English."),
    "party.code_invalid": N_("Code: lower-case letters, digits, underscores and hyphens only, starting with a letter "
                             "or digit (e.g. bazhou, dept-wjw)."),
    "party.code_taken": N_("Code: %(code)s is already used by another party."),
    "party.name_missing": N_("Name: enter the party's name."),
    "party.name_too_long": N_("Name: at most %(n)s characters."),
    "party.name_taken": N_("Name: a party named “%(name)s” already exists (%(code)s); choose another name."),
    "party.kind_unknown": N_("Kind: choose one of the listed kinds."),
    "party.has_incidents": N_("%(name)s has %(n)s incidents and cannot be deleted; deactivate it instead."),
    "party.in_use": N_("%(name)s still has users or notification channels: move or remove them first, or deactivate "
                       "the party."),
    "channel.audience_unknown": N_("Reaches: choose whom the channel reaches."),
    "channel.person_unknown": N_("Person: choose a person from the list."),
    "channel.person_missing": N_("Person: a channel reaching a person while on duty needs the person; choose them."),
    "channel.party_missing": N_("Party: a channel for a party or its leadership belongs to one party; choose it."),
    "channel.url_missing": N_("Notification URL: enter an apprise URL, such as wecombot://…, dingtalk://… or "
                              "mailto://…"),
    "channel.url_too_long": N_("Notification URL: at most %(n)s characters."),
    "channel.url_invalid": N_("Notification URL: apprise cannot use it (unknown service or malformed); check it and "
                              "enter it again."),
    "search.too_long": N_("The search words are too long: at most %(n)s characters."),
    "search.nul": N_("Remove the invalid (NUL) character from the search words."),
    "search.dates_reversed": N_("The end date is before the start date; swap them or choose again."),
    "search.date_out_of_range": N_("Choose a date between 1900-01-01 and 2999-12-31."),
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
    # Directory login (desk.directory): the password was right, or nothing could be checked.
    "login.no_group": N_("Your directory account is in none of the groups this desk admits, so you cannot log in "
                         "yet: ask the administrator to give you access."),
    "login.no_party": N_("Your directory account is in a responders' group but in no responsible party's group, "
                         "so you cannot log in yet: ask the administrator."),
    "login.directory_unavailable": N_("The directory (LDAP) cannot be reached right now: try again later or ask "
                                      "the administrator."),
    "attachment.none": N_("Choose the files to upload."),
    "attachment.too_many": N_("At most %(max)s files at a time; upload the rest in another go."),
    "attachment.empty": N_("“%(name)s” is empty (0 bytes); choose the file again."),
    "attachment.too_large": N_("“%(name)s” is %(size)s MB, over the limit of %(max)s MB; compress or split it, "
                               "then upload it."),
    "attachment.executable": N_("“%(name)s” is a program; programs cannot be kept as evidence."),
    "attachment.markup": N_("“%(name)s” is a web page or SVG drawing (it may carry script) and cannot be uploaded; "
                            "take a screenshot or save it as PDF, then upload that."),
    "attachment.archive": N_("“%(name)s” is an archive and cannot be uploaded; unpack it and upload its pictures or "
                             "documents."),
    "attachment.unknown": N_("The type of “%(name)s” is not recognised; upload pictures, PDF, Office/WPS documents, "
                             "text, audio or video."),
    "attachment.damaged_image": N_("The picture “%(name)s” is damaged or cannot be opened; take the screenshot or "
                                   "photo again and upload it."),
    "attachment.duplicate": N_("“%(name)s” is already kept as evidence (as “%(kept)s”)."),
    "attachment.not_found": N_("This incident has no such file."),
    "attachment.already_withdrawn": N_("“%(name)s” is already withdrawn."),
    "attachment.withdraw_forbidden": N_("Only the person who uploaded the file, or a supervisor, can withdraw it."),
    "attachment.unsupported": N_("This incident runs on an older version of the desk that cannot keep files; add a "
                                 "note instead."),
    "report.period": N_("Choose a month (such as 2026-03) or a quarter (such as 2026-Q1), in a year from 2000 to "
                        "2099."),
    "duplicate.not_found": N_("There is no incident numbered %(id)s; check the number."),
    "link.self": N_("An incident cannot be linked to itself; choose another incident."),
    "link.already": N_("%(other)s is already linked with this incident."),
    "merge.self": N_("An incident cannot be merged into itself; choose another incident."),
    "merge.target_closed": N_("%(id)s is closed: an incident cannot be merged into a closed one. Choose an open "
                              "incident, or reopen it first."),
    "merge.target_merged": N_("%(id)s was merged into %(into)s: merge into %(into)s instead."),
    "merge.merged": N_("This incident was merged into %(into)s; continue there."),
    "workflow.old_run": N_("This incident runs on an older version of the desk that cannot do this; add a note "
                           "instead."),
    "support.is_lead": N_("This party leads the incident; it cannot also be a supporting party."),
    "support.already": N_("This party is already a supporting party of the incident."),
    "support.only_lead": N_("A supporting party cannot do this; releases and tasks stay with the lead party."),
    "shared.unsupported": N_("This incident runs on an older version of the desk that has no supporting parties or "
                             "tasks; add a note instead."),
    "task.empty": N_("Write what the party must do."),
    "task.due_in_past": N_("The due time must be later than now."),
    "task.party_not_involved": N_("A task goes to the lead party or a supporting party of this incident."),
    "task.not_lead": N_("Only the lead party or a supervisor can assign a task."),
    "task.unknown": N_("This incident has no task %(task)s."),
    "task.not_open": N_("Task %(task)s is already done or waived."),
    "task.not_yours": N_("Task %(task)s was not given to your party."),
    "task.result_missing": N_("Write the result, or attach a file."),
    "task.attachment_unknown": N_("The file given is not one of this incident's files (or it was withdrawn): "
                                  "upload it under Evidence first, then choose it."),
    "task.file_required": N_("Task %(task)s must be done with a file: upload the attachment first."),
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
