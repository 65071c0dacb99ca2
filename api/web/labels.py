"""Names of codes as people read them. Msgids in English; the zh_CN catalog gives the Chinese."""

from __future__ import annotations

from api.web.i18n import N_
from desk.vocab import (
    RESCHEDULED,
    Category,
    DeliveryStatus,
    EventKind,
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
}
# Why an owed message is no longer due (the "notification_cancelled" event's reason).
OWED_ENDED = {
    MilestoneState.met: N_("milestone met"),
    MilestoneState.met_late: N_("milestone met late"),
    MilestoneState.waived: N_("milestone waived"),
    IncidentStatus.closed: N_("incident closed"),
    RESCHEDULED: N_("deadline changed"),
}
NOTIFICATION_KINDS = {
    NotificationKind.reminder: N_("Reminder"),
    NotificationKind.breach: N_("Escalation"),
    NotificationKind.repeat: N_("Repeated escalation"),
    NotificationKind.channel_failure: N_("Channel failure alert"),
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

# Messages the schemas and the workflow validators write in Chinese, said in the catalog's words, so an English
# page shows English. Anything not listed is shown as it came.
KNOWN_MESSAGES = {
    "请填写标题": N_("Enter a title."),
    "必填": N_("This field is required."),
    "来源链接须以 http:// 或 https:// 开头": N_("The source link must start with http:// or https://."),
    "发现时间不能晚于当前时间": N_("The detected time cannot be later than now."),
    "请选择事件级别（自然灾害、事故灾难、公共卫生事件须定级）": N_(
        "Choose a level: natural disasters, accidents and public health events must be graded."),
    "不能包含空字符（NUL）": N_("Remove the invalid (NUL) character."),
    "发布时间不能晚于当前时间": N_("The release time cannot be later than now."),
    "发布时间早于舆情发现时间，请核对后重新填写": N_(
        "The release time is earlier than the detected time; check it and enter it again."),
    "请填写备注内容": N_("Enter the note."),
    "备注内容不能为空": N_("Enter the note."),
    "请填写理由": N_("Enter the reason."),
    "该事件已签收，无需重复签收": N_("This incident has already been acknowledged."),
    "尚未记录首次权威信息发布，请先记录“发布权威信息”": N_(
        "No authoritative release has been recorded yet: record the first release first."),
    "该事件已由此单位负责": N_("This party is already responsible for the incident."),
    "事件已是该级别": N_("The incident already has this level."),
    "该时限已完成或已豁免": N_("This milestone is already met or waived."),
    "事件已结案；如需继续处理，请先重新打开": N_("The incident is closed; reopen it first to continue."),
    "事件未结案，无需重新打开": N_("The incident is not closed; there is nothing to reopen."),
}

# The incident service's refusals (desk.errors), by their code; params fill the %(name)s. A code not listed
# (a workflow validator's refusal) shows the workflow's own sentence, through KNOWN_MESSAGES above.
ERROR_MESSAGES = {
    "incident.not_found": N_("There is no incident numbered %(id)s."),
    "role.forbidden": N_("Your role cannot take this action."),
    "party.unknown": N_("Choose the responsible party from the list."),
    "release.before_detected": N_("The release time is earlier than the detected time; check it and enter it again."),
    "workflow.ended": N_("The handling of this incident has ended (closed for longer than it can be reopened); "
                         "it cannot be changed any more."),
    "engine.unavailable": N_("The workflow engine cannot be reached right now; nothing was changed. Try again shortly."),
}
