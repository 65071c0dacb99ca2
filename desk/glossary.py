"""The desk's words, one Chinese word for one thing, in whatever the desk writes without the page catalog:
the board's JSON, the assessment and its CSV, the messages. The pages say the same through the catalog
(api/locales); tests/unit/test_glossary.py holds the two together and refuses the synonyms they replaced.
"""

from __future__ import annotations

from desk.vocab import MilestoneState, NotificationKind

OVERDUE = "已超时"  # not 已超期 / 超期未完成
MET = "按时完成"
MET_LATE = "超时完成"
PENDING = "未到期"
WAIVED = "已豁免"
AT_RISK = "临近时限"
ON_TRACK = "正常"
ESCALATE = "督办"  # what happens on a missed deadline: 超时督办, 再次督办, 已督办 N 次 (not 升级)

MILESTONE_STATES = {MilestoneState.pending: PENDING, MilestoneState.met: MET, MilestoneState.met_late: MET_LATE,
                    MilestoneState.overdue: OVERDUE, MilestoneState.waived: WAIVED}
NOTIFICATION_TITLES = {
    NotificationKind.reminder: "【时限提醒】",
    NotificationKind.breach: f"【超时{ESCALATE}】",
    NotificationKind.repeat: f"【再次{ESCALATE}】",
    NotificationKind.channel_failure: "【通知渠道故障】",
    NotificationKind.assigned: "【新交办】",
    NotificationKind.urge: f"【{ESCALATE}】",
    NotificationKind.handover_unconfirmed: "【交接班未确认】",
}
# Said for the same thing by earlier versions; the catalog and these tables must not use them any more.
REPLACED = ("已超期", "超期未完成", "升级")
