"""What the assessment counts and how it is shown: the assessed milestones, the outcome buckets, the labels
and the definitions text (the page, the JSON and the CSV all show ``DEFINITIONS``)."""

from __future__ import annotations

from dataclasses import dataclass

from desk import glossary
from desk.vocab import Category, Level, MilestoneKey, MilestoneState

# The assessment's own words, keyed by the codes of desk.vocab: the CSV export and the JSON report are written
# here in the domain, which cannot use the pages' catalog (api/web/labels.py), and say "Not yet due" where a
# page says "Pending".
ASSESSED = (MilestoneKey.acknowledge, MilestoneKey.first_release, MilestoneKey.press_conference)
TASK = "task"  # tasks (督办事项): a line of their own, beside the milestones
LINES = (*ASSESSED, TASK)  # the assessment's lines per party and overall
MILESTONE_LABELS: dict[str, str] = {MilestoneKey.acknowledge: "责任单位签收", MilestoneKey.first_release: "发布权威信息",
                                    MilestoneKey.press_conference: "举行新闻发布会", MilestoneKey.follow_up: "动态发布",
                                    TASK: "督办事项办结"}
MILESTONE_LABELS_EN: dict[str, str] = {MilestoneKey.acknowledge: "Acknowledgement",
                                       MilestoneKey.first_release: "First authoritative release",
                                       MilestoneKey.press_conference: "Press conference",
                                       MilestoneKey.follow_up: "Follow-up release", TASK: "Tasks done"}
LEVEL_LABELS = {Level.I: "特别重大", Level.II: "重大", Level.III: "较大", Level.IV: "一般"}
CATEGORY_LABELS = {Category.natural_disaster: "自然灾害", Category.accident: "事故灾难",
                   Category.public_health: "公共卫生事件", Category.social_security: "社会安全事件",
                   Category.public_opinion: "政务舆情/媒体关切"}
STATE_LABELS = glossary.MILESTONE_STATES
BUCKETS = (MilestoneState.met, MilestoneState.met_late, MilestoneState.overdue, MilestoneState.waived,
           MilestoneState.pending)
# Time-to-first-release distribution: upper bounds in hours (the 5 h / 24 h / 48 h of the rules).
RELEASE_BINS = ((5, "≤5 小时"), (24, "5–24 小时"), (48, "24–48 小时"), (None, ">48 小时"))


@dataclass(frozen=True)
class Definition:
    key: str
    label: str
    label_en: str
    text: str
    text_en: str


DEFINITIONS: tuple[Definition, ...] = (
    Definition("scope", "统计范围", "Scope",
               "统计期间内（按北京时间，起止日期均含）发现的非演练舆情事件；按发现时间归属月份；演练事件一律不计入。",
               "Non-drill incidents detected within the period (Asia/Shanghai days, both ends included); "
               "drills never count."),
    Definition("incidents", "事件数", "Incidents",
               "统计范围内的事件数；在“时限”行中为设有该时限的事件数（新闻发布会仅特别重大事件设有）；"
               "“责任单位签收”行另计每个配合单位的签收时限，“督办事项办结”行为督办事项数。",
               "Incidents in scope; on a milestone row, the incidents that have that milestone; the acknowledgement "
               "row also counts each supporting party's own acknowledgement, the tasks row counts tasks."),
    Definition("merged", "合并事件", "Merged incidents",
               "同一话题从多个渠道（12345、微博、上级交办等）登记为多个事件并被合并时，只按保留的事件计一次：被并入的事件"
               "不计入事件数、月度趋势、用时和首次发布用时分布；它在合并前已超时的时限（已超时或超时完成）仍计入其责任单位，"
               "合并不能抹去超时；其余时限（按时完成的、合并时尚未到期而停止的）不计入。",
               "When one topic arrives from several sources and the incidents are merged, it counts once, as the "
               "incident that stays: a merged incident is left out of the incident counts, the monthly trend, the "
               "times and the time-to-first-release bins; a deadline it had already missed before the merge (overdue "
               "or met late) still counts against its party, so a merge never wipes a breach; its other milestones "
               "(met on time, or stopped by the merge before they were due) do not count."),
    Definition("shared", "牵头与配合、督办事项", "Lead, supporting parties and tasks",
               "每个单位只计本单位自己的时限：牵头单位计事件的各项时限；配合单位计自己的签收时限（自被列为配合单位时起算，"
               "开案时列入的自发现时间起算）；督办事项计入被交办单位的“督办事项办结”行，按完成时限判定是否按时。"
               "这些时限计入该单位的及时率和回应率，不计入用时中位数和 P90。",
               "Each party is assessed on its own clocks: the lead on the incident's milestones; a supporting party on "
               "its own acknowledgement (counted from when it was added, or from detection when named at opening); a "
               "task on the tasks row of the party it was given to, on time if done by its due time. They count in "
               "that party's rates, not in the median and P90 times."),
    Definition("met", "按时完成", "Met on time", "在截止时间前（含）完成的时限数。完成时间以实际发生时间为准。",
               "Milestones met at or before the deadline (the time it happened, not when it was recorded)."),
    Definition("met_late", "超时完成", "Met late", "截止时间之后才完成的时限数。", "Milestones met after the deadline."),
    Definition("overdue", glossary.OVERDUE, "Overdue", "截止时间已过仍未完成、也未豁免的时限数。",
               "Milestones past their deadline, neither met nor waived."),
    Definition("waived", "已豁免", "Waived", "督办人员注明理由后豁免的时限数，不计入及时率和回应率的分母。",
               "Milestones waived by a supervisor with a reason; left out of both rates."),
    Definition("pending", "未到期", "Not yet due", "尚未到截止时间、也未完成的时限数，不计入分母。",
               "Milestones not yet due and not met; left out of both rates."),
    Definition("on_time_rate", "及时率", "On-time rate", "按时完成 ÷（按时完成 + 超时完成 + 已超时）。",
               "Met on time ÷ (met on time + met late + overdue)."),
    Definition("response_rate", "回应率", "Response rate",
               "（按时完成 + 超时完成）÷（按时完成 + 超时完成 + 已超时），即应回应的时限中已回应的比例。",
               "(Met on time + met late) ÷ (met on time + met late + overdue)."),
    Definition("median_hours", "用时中位数（小时）", "Median time (hours)",
               "从发现到完成该时限的用时（仅已完成者）的中位数，同 Excel MEDIAN。",
               "Median of the time from detection to meeting the milestone (met ones only), as Excel MEDIAN."),
    Definition("p90_hours", "用时 P90（小时）", "P90 time (hours)",
               "同上用时的第 90 百分位数，按秩线性插值，同 Excel PERCENTILE.INC(…, 0.9)。",
               "90th percentile of the same times, linear between ranks, as Excel PERCENTILE.INC(…, 0.9)."),
    Definition("press_conference", "新闻发布会合规率", "Press-conference compliance",
               "特别重大（I 级）事件中，在时限内举行新闻发布会的比例：按时举行 ÷（按时 + 超时 + 超期未举行），豁免不计。",
               "Level I incidents whose press conference was held in time, over those due (waived left out)."),
    Definition("monthly", "月度趋势", "Monthly trend", "按发现时间所在月份（北京时间）汇总的事件数、及时率和回应率。",
               "Incidents, on-time and response rate by the month of detection (Asia/Shanghai)."),
    Definition("release_completeness", "发布内容完整率", "Release completeness",
               "统计范围内事件的发布记录（首次发布、新闻发布会、动态发布）中，“事实”“措施”“结果/进展”三项均已填写的比例："
               "三项齐全的发布数 ÷ 发布总数。按牵头（责任）单位计；没有发布记录的单位显示“—”。",
               "Of the releases recorded (first release, press conference, follow-ups) for incidents in scope, the "
               "share that filled in all three of facts, measures and outcome/progress: complete ÷ all. Counted "
               "for the lead (responsible) party; a party with no release shows \"—\"."),
    Definition("release_distribution", "首次发布用时分布", "Time to first release",
               "已发布权威信息的事件，从发现到首次发布的用时分组：≤5 小时、5–24 小时、24–48 小时、>48 小时。",
               "Incidents with a first release, grouped by hours from detection to that release."),
)


def definitions(language: str = "zh") -> list[dict[str, str]]:
    en = language.startswith("en")
    return [{"key": d.key, "label": d.label_en if en else d.label, "text": d.text_en if en else d.text}
            for d in DEFINITIONS]


def milestone_label(key: str, language: str) -> str:
    return (MILESTONE_LABELS_EN if language.startswith("en") else MILESTONE_LABELS).get(key, key)
