"""The assessment as CSV for Excel and WPS: the summary of a report, and the detail rows behind every figure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from desk.models import Party
from desk.stats.definitions import CATEGORY_LABELS, LEVEL_LABELS, LINES, MILESTONE_LABELS, STATE_LABELS
from desk.stats.periods import Period
from desk.stats.queries import detail_sql
from desk.timefmt import local_naive
from desk.vocab import MilestoneState

PENDING, OVERDUE, MET_STATES = MilestoneState.pending, MilestoneState.overdue, (MilestoneState.met,
                                                                           MilestoneState.met_late)
BOM = "\ufeff"
SUMMARY_HEADER = ["责任单位", "单位代码", "时限", "事件数", "按时完成", "超时完成", "已超时", "已豁免", "未到期",
                  "及时率(%)", "回应率(%)", "用时中位数(小时)", "用时P90(小时)"]
DETAIL_HEADER = ["事件编号", "标题", "责任单位", "单位代码", "级别", "类别", "发现时间(北京时间)", "时限", "截止时间(北京时间)",
                 "结果", "完成时间(北京时间)", "用时(小时)", "豁免理由"]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def _row(name: str, code: str, label: str, f: dict) -> list:
    return [name, code, label, f["incidents"], f["met"], f["met_late"], f["overdue"], f["waived"], f["pending"],
            _pct(f["on_time_rate"]), _pct(f["response_rate"]), _hours(f.get("median_seconds")),
            _hours(f.get("p90_seconds"))]


def summary_rows(report: dict) -> list[list]:
    """The CSV body: per party, one row per milestone and a 合计 row; then all parties; then definitions."""
    rows: list[list] = [SUMMARY_HEADER]
    for p in report["parties"]:
        for key in LINES:
            if key in p["milestones"]:
                rows.append(_row(p["name"], p["party"], MILESTONE_LABELS[key], p["milestones"][key]))
        rows.append(_row(p["name"], p["party"], "全部时限合计", p["figures"]))
    for m in report["milestones"]:
        rows.append(_row("全部单位", "", MILESTONE_LABELS[m["key"]], m))
    rows.append(_row("全部单位", "", "全部时限合计", report["overall"]))
    rows.append([])
    rows.append(["统计期间", f"{report['period']['from']} 至 {report['period']['to']}（北京时间）"])
    rows.append(["口径", "说明"])
    rows.extend([d["label"], d["text"]] for d in report["definitions"])
    return rows


# Excel and WPS run a cell that starts with one of these as a formula (full-width forms too: a Chinese input
# method types ＝ for =), so a title like =HYPERLINK("http://…") would act when a supervisor opens the export.
FORMULA_START = frozenset("=+-@\t\r＝＋－＠")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: object) -> object:
    """A cell that cannot start a formula: text beginning like one gets a leading ' (shown as plain text)."""
    if type(value) is str and value and value[0] in FORMULA_START and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 text with a BOM first (so Excel reads Chinese correctly), CRLF line ends, in chunks.
    Every text cell goes through :func:`safe_cell`: titles, party names and reasons are typed by people."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield BOM
    for i, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def detail_rows(session: Session, period: Period, *, party: str | None = None,
                now: datetime | None = None) -> Iterator[list]:
    """One row per incident and assessed milestone: the evidence behind every figure.

    A year is some 40,000 rows: they stream (``yield_per``) as plain tuples, times as naive UTC."""
    now_utc = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    names: dict[str, str] = dict(session.execute(select(col(Party.code), col(Party.name))).all())
    levels = {code: f"{label}（{code}）" for code, label in LEVEL_LABELS.items()}
    yield DETAIL_HEADER
    result = session.execute(detail_sql(session, period, party).execution_options(yield_per=2000))
    last_detected, detected_text = None, ""
    for human_id, title, party_code, level, category, detected, key, due, state, met, waived in result:
        if detected != last_detected:  # an incident's milestones come together: format its time once
            last_detected, detected_text = detected, local_naive(detected)
        if state == PENDING and due <= now_utc:
            state = OVERDUE
        took = (met - detected).total_seconds() if met is not None and state in MET_STATES else None
        yield [human_id, title, names.get(party_code, party_code), party_code,
               levels.get(level) or f"{level}（{level}）", CATEGORY_LABELS.get(category, category), detected_text,
               MILESTONE_LABELS.get(key, key), local_naive(due), STATE_LABELS.get(state, state),
               local_naive(met), _hours(took), waived or ""]
