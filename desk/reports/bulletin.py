"""The assessment 通报 for a month or a quarter: per party the incidents, the on-time rate of each assessed
milestone, the rank, and the list of missed deadlines; drills never count.

Every figure is the assessment's (``desk.stats.assessment``: the page, the JSON and the CSV show the same), and
the rank is the page's (``desk.stats.rank_parties``). Written in Chinese, like the CSV: it is an official
document, whoever downloads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import literal_column, select
from sqlmodel import Session, col

from desk import glossary, stats
from desk.errors import InvalidInput
from desk.models import Incident, Milestone
from desk.reports.document import COUNT, HOURS, RATE, Column, Document, Paragraph, Section, Table
from desk.stats.queries import bucket_of, scope
from desk.timefmt import SHANGHAI
from desk.vocab import MilestoneKey, MilestoneState

QUARTERS = ("一", "二", "三", "四")
_PERIOD = re.compile(r"^(\d{4})-(?:(\d{2})|[Qq]([1-4]))$")
NUMBER_PLACEHOLDER = "〔{year}〕　号"  # the office writes its own prefix and number (文号) before sending
MISSED_LIMIT = 5000  # rows of the missed-deadline list; more are counted, not listed


@dataclass(frozen=True)
class ReportPeriod:
    period: stats.Period
    name: str  # 2026年3月 / 2026年第一季度
    code: str  # 2026-03 / 2026-Q1


def report_period(text: str) -> ReportPeriod:
    """``2026-03`` (a month) or ``2026-Q1`` (a quarter), Beijing calendar days; InvalidInput otherwise."""
    match = _PERIOD.match((text or "").strip())
    year = int(match.group(1)) if match else 0
    month = int(match.group(2)) if match and match.group(2) else 0
    quarter = int(match.group(3)) if match and match.group(3) else 0
    if not match or not 2000 <= year <= 2099 or (match.group(2) and not 1 <= month <= 12):
        raise InvalidInput("统计期间须为某月（如 2026-03）或某季度（如 2026-Q1），年份在 2000 至 2099 之间。",
                           code="report.period", field="period", params={"period": (text or "")[:20]})
    if quarter:
        start = date(year, 3 * quarter - 2, 1)
        months, name, code = 3, f"{year}年第{QUARTERS[quarter - 1]}季度", f"{year}-Q{quarter}"
    else:
        start, months, name, code = date(year, month, 1), 1, f"{year}年{month}月", f"{year}-{month:02d}"
    y, m = divmod(start.month - 1 + months, 12)
    end = date(start.year + y, m + 1, 1) - timedelta(days=1)
    return ReportPeriod(stats.Period(start, end), name, code)


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def missed_deadlines(session: Session, period: stats.Period, now: datetime) -> tuple[list[tuple], int]:
    """The assessed milestones of the period met late or overdue (a pending one past its deadline is overdue,
    as the assessment counts it), by party, then deadline; and how many there are in all."""
    bucket = bucket_of(now).label("bucket")
    base = (select(col(Incident.human_id), col(Incident.title), col(Incident.party_code), col(Milestone.key),
                   col(Milestone.due_at), col(Milestone.met_at), bucket)
            .select_from(Milestone).join(Incident, col(Incident.id) == col(Milestone.incident_id))
            .where(*scope(period, None), col(Milestone.key).in_(stats.ASSESSED)))
    missed = base.subquery()
    wanted = missed.c.bucket.in_((MilestoneState.overdue.value, MilestoneState.met_late.value))
    total = session.execute(select(literal_column("count(*)")).select_from(missed).where(wanted)).scalar_one()
    rows = session.execute(select(missed).where(wanted).order_by(missed.c.party_code, missed.c.due_at,
                                                                 missed.c.human_id).limit(MISSED_LIMIT)).all()
    return [tuple(r) for r in rows], int(total)


def bulletin(session: Session, period: ReportPeriod, *, now: datetime | None = None) -> Document:
    """The 通报 of a month or quarter as a document (desk.reports.document writes it as .docx, PDF, .xlsx)."""
    now = now or datetime.now(UTC)
    report = stats.assessment(session, period.period, now=now)
    ranked = stats.rank_parties(report["parties"])
    overall = report["overall"]
    p = period.period
    span = f"{_chinese_date(p.start)}至{_chinese_date(p.end)}（北京时间）"
    title = f"关于{period.name}政务舆情回应情况的通报"
    doc = Document(title=title, number=NUMBER_PLACEHOLDER.format(year=now.astimezone(SHANGHAI).year),
                   date=_chinese_date(now.astimezone(SHANGHAI).date()), sections=[],
                   filename=f"通报_{period.code}",
                   footer=f"本通报由舆情回应台根据事件时间线自动生成，生成时间 "
                          f"{now.astimezone(SHANGHAI):%Y-%m-%d %H:%M}（北京时间）；演练事件不计入。")
    if not ranked:
        doc.sections.append(Section("一、总体情况", [Paragraph(
            f"统计期间 {span}，无舆情事件（演练事件不计入），本期无考核数据。")]))
        doc.sections.append(_definitions())
        return doc
    due = overall["due"]
    doc.sections.append(Section("一、总体情况", [Paragraph(
        f"统计期间 {span}，共发现舆情事件 {overall['incidents']} 件，涉及责任单位 {len(ranked)} 个。"
        f"应完成的处置时限 {due} 个，其中{glossary.MET} {overall['met']} 个、{glossary.MET_LATE} {overall['met_late']} 个、"
        f"{glossary.OVERDUE} {overall['overdue']} 个，及时率 {_pct(overall['on_time_rate'])}，"
        f"回应率 {_pct(overall['response_rate'])}；{glossary.WAIVED} {overall['waived']} 个，"
        f"{glossary.PENDING} {overall['pending']} 个，不计入。")]))

    columns = [Column("排名", COUNT, 1), Column("责任单位", width=4), Column("事件数", COUNT, 1.2)]
    lines = [m["key"] for m in report["milestones"]]  # the assessment's lines: its milestones and the tasks
    columns += [Column(f"{stats.MILESTONE_LABELS[k]}及时率", RATE, 1.6) for k in lines]
    columns += [Column("总及时率", RATE, 1.4), Column("回应率", RATE, 1.4), Column(glossary.OVERDUE, COUNT, 1.2),
                Column(glossary.MET_LATE, COUNT, 1.2)]
    rows = []
    for party in ranked:
        f = party["figures"]
        rows.append([party["rank"], party["name"], f["incidents"],
                     *((party["milestones"].get(k) or {}).get("on_time_rate") for k in lines),
                     f["on_time_rate"], f["response_rate"], f["overdue"], f["met_late"]])
    rows.append([None, "合计", overall["incidents"],
                 *(m["on_time_rate"] for m in report["milestones"]),
                 overall["on_time_rate"], overall["response_rate"], overall["overdue"], overall["met_late"]])
    doc.sections.append(Section("二、各责任单位及时率排名", [
        Paragraph("按总及时率从高到低排名，及时率相同者并列；本期无应完成时限的单位不参与排名（“—”）。"),
        Table(columns, rows, sheet="排名")]))

    missed, total = missed_deadlines(session, p, now)
    names = {party["party"]: party["name"] for party in ranked}
    missed_rows = []
    for human_id, title_, code, key, due_at, met_at, bucket in missed:
        due_at = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
        met_at = met_at if met_at is None or met_at.tzinfo else met_at.replace(tzinfo=UTC)
        late = ((met_at or now) - due_at).total_seconds()
        missed_rows.append([human_id, title_, names.get(code, code), stats.MILESTONE_LABELS.get(key, key),
                            f"{due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}", stats.STATE_LABELS.get(bucket, bucket),
                            max(late, 0)])
    blocks: list = [Paragraph(f"共 {total} 个时限超时（{glossary.OVERDUE}或{glossary.MET_LATE}），"
                              "按责任单位和截止时间排列；超时时长对未完成者计至通报生成时。")]
    if total > len(missed_rows):
        blocks.append(Paragraph(f"仅列出前 {len(missed_rows)} 个，完整清单见考核页面的明细导出。"))
    blocks.append(Table([Column("事件编号", width=2.2), Column("标题", width=4), Column("责任单位", width=3),
                         Column("时限", width=2), Column("截止时间", width=2.4), Column("结果", width=1.4),
                         Column("超时", HOURS, 1.6)], missed_rows, empty="本期无超时时限。", sheet="超时清单"))
    doc.sections.append(Section("三、超时情况", blocks))
    doc.sections.append(_definitions())
    return doc


def _definitions() -> Section:
    shown = ("scope", "met", "met_late", "overdue", "waived", "pending", "on_time_rate", "response_rate")
    rows = [[d.label, d.text] for d in stats.DEFINITIONS if d.key in shown]
    assessed = "、".join(stats.MILESTONE_LABELS[k] for k in stats.ASSESSED)
    return Section("四、统计口径", [
        Paragraph(f"考核的时限：{assessed}；{stats.MILESTONE_LABELS[MilestoneKey.follow_up]}不计分。"),
        Table([Column("口径", width=1), Column("说明", width=5)], rows, sheet="口径")])


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
