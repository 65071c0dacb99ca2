"""Names of codes as people read them. Msgids in English; the zh_CN catalog gives the Chinese."""

from __future__ import annotations

from api.web.i18n import N_

LEVELS = {
    "I": N_("Especially serious (I)"),
    "II": N_("Serious (II)"),
    "III": N_("Relatively serious (III)"),
    "IV": N_("General (IV)"),
}
CATEGORIES = {
    "natural_disaster": N_("Natural disaster"),
    "accident": N_("Accident or disaster"),
    "public_health": N_("Public health event"),
    "social_security": N_("Social security event"),
    "public_opinion": N_("Government affairs opinion / media concern"),
}
SOURCES = {
    "web": N_("Online media"),
    "weibo": N_("Weibo"),
    "wechat": N_("WeChat"),
    "short_video": N_("Douyin / short video"),
    "hotline_12345": N_("12345 hotline"),
    "leader_mailbox": N_("Leader's mailbox"),
    "media_visit": N_("Media visit"),
    "assigned_from_above": N_("Assigned from above"),
    "other": N_("Other"),
}
MILESTONES = {
    "acknowledge": N_("Acknowledgement by the responsible party"),
    "first_release": N_("Authoritative information released"),
    "press_conference": N_("Press conference held"),
    "follow_up": N_("Follow-up release"),
}
MILESTONE_STATES = {
    "pending": N_("Pending"),
    "overdue": N_("Overdue"),
    "met": N_("Met on time"),
    "met_late": N_("Met late"),
    "waived": N_("Waived"),
}
STATUSES = {"open": N_("Open"), "closed": N_("Closed")}
ROLES = {
    "duty_officer": N_("Duty officer"),
    "responder": N_("Responder"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
}
EVENTS = {
    "opened": N_("Incident opened"),
    "acknowledged": N_("Acknowledged"),
    "released": N_("Authoritative information released"),
    "press_conference": N_("Press conference held"),
    "update": N_("Follow-up release"),
    "note": N_("Note"),
    "reassigned": N_("Reassigned"),
    "level_changed": N_("Level changed"),
    "waived": N_("Milestone waived"),
    "closed": N_("Closed"),
    "reopened": N_("Reopened"),
    "reminder_sent": N_("Reminder sent"),
    "escalated": N_("Deadline missed: escalated"),
    "escalation_repeated": N_("Escalated again"),
    "notification_failed": N_("Notification failed"),
    "channel_failure_escalated": N_("Failing channel reported to the supervisor"),
    "delivery_recovered": N_("Owed notification delivered"),
    "notification_cancelled": N_("Owed notification no longer due"),
}
OWED_ENDED = {
    "met": N_("milestone met"),
    "met_late": N_("milestone met late"),
    "waived": N_("milestone waived"),
    "closed": N_("incident closed"),
    "rescheduled": N_("deadline changed"),
}
NOTIFICATION_KINDS = {
    "reminder": N_("Reminder"),
    "breach": N_("Escalation"),
    "repeat": N_("Repeated escalation"),
    "channel_failure": N_("Channel failure alert"),
}
DELIVERY = {
    "delivered": N_("Delivered"),
    "accepted_unconfirmed": N_("Accepted (platform cannot confirm)"),
    "failed": N_("Failed"),
    "no_channel": N_("No channel configured"),
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
    "incident.not_found": N_("There is no incident numbered %(id)s."),
    "role.forbidden": N_("Your role cannot take this action."),
    "party.unknown": N_("Choose the responsible party from the list."),
    "release.before_detected": N_("The release time is earlier than the detected time; check it and enter it again."),
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
}
