"""Assessment statistics (政务公开考核) over the SQL read models: pure query functions over a Session.

Every figure is defined once, in ``DEFINITIONS`` (the page, the JSON and the CSV all show them),
and computed only here. Rules that hold for every figure:

- drills (演练) never count;
- a period is a range of calendar days in Asia/Shanghai, both ends included, applied to
  ``detected_at`` (when the clocks started), so an incident belongs to the month it surfaced in;
- the assessed milestones are acknowledgement, first authoritative release and press conference;
  the rolling follow-up clock (动态发布) is not scored (only its latest window is kept);
- a pending milestone whose deadline has passed counts as overdue, even if the breach has not been
  recorded yet;
- medians and P90 interpolate linearly between ranks, like Excel's MEDIAN and PERCENTILE.INC, so a
  unit can recompute its own figures from the detail export.

A year's assessment groups some 40,000 milestones and sorts their durations: 100–300 ms however the
rows are laid out (bench/board.py measured the join, a denormalised covering index and the bare
scan). A past period rarely changes, so each process keeps the last reports and answers again from
memory while their stamp (``_stamp``) still matches; any write to an incident of the period changes it.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Float, and_, case, cast, event, false, func, literal_column, or_, select, type_coerce
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from desk.models import Incident, Milestone, Party

SHANGHAI = ZoneInfo("Asia/Shanghai")
ASSESSED = ("acknowledge", "first_release", "press_conference")
MILESTONE_LABELS = {"acknowledge": "责任单位签收", "first_release": "发布权威信息", "press_conference": "举行新闻发布会",
                    "follow_up": "动态发布"}
MILESTONE_LABELS_EN = {"acknowledge": "Acknowledgement", "first_release": "First authoritative release",
                       "press_conference": "Press conference", "follow_up": "Follow-up release"}
LEVEL_LABELS = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
CATEGORY_LABELS = {"natural_disaster": "自然灾害", "accident": "事故灾难", "public_health": "公共卫生事件",
                   "social_security": "社会安全事件", "public_opinion": "政务舆情/媒体关切"}
STATE_LABELS = {"pending": "未到期", "met": "按时完成", "met_late": "超时完成", "overdue": "超期未完成",
                "waived": "已豁免"}
BUCKETS = ("met", "met_late", "overdue", "waived", "pending")
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
               "统计范围内的事件数；在“时限”行中为设有该时限的事件数（新闻发布会仅特别重大事件设有）。",
               "Incidents in scope; on a milestone row, the incidents that have that milestone."),
    Definition("met", "按时完成", "Met on time", "在截止时间前（含）完成的时限数。完成时间以实际发生时间为准。",
               "Milestones met at or before the deadline (the time it happened, not when it was recorded)."),
    Definition("met_late", "超时完成", "Met late", "截止时间之后才完成的时限数。", "Milestones met after the deadline."),
    Definition("overdue", "超期未完成", "Overdue", "截止时间已过仍未完成、也未豁免的时限数。",
               "Milestones past their deadline, neither met nor waived."),
    Definition("waived", "已豁免", "Waived", "督办人员注明理由后豁免的时限数，不计入及时率和回应率的分母。",
               "Milestones waived by a supervisor with a reason; left out of both rates."),
    Definition("pending", "未到期", "Not yet due", "尚未到截止时间、也未完成的时限数，不计入分母。",
               "Milestones not yet due and not met; left out of both rates."),
    Definition("on_time_rate", "及时率", "On-time rate", "按时完成 ÷（按时完成 + 超时完成 + 超期未完成）。",
               "Met on time ÷ (met on time + met late + overdue)."),
    Definition("response_rate", "回应率", "Response rate",
               "（按时完成 + 超时完成）÷（按时完成 + 超时完成 + 超期未完成），即应回应的时限中已回应的比例。",
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
    Definition("release_distribution", "首次发布用时分布", "Time to first release",
               "已发布权威信息的事件，从发现到首次发布的用时分组：≤5 小时、5–24 小时、24–48 小时、>48 小时。",
               "Incidents with a first release, grouped by hours from detection to that release."),
)


def definitions(language: str = "zh") -> list[dict[str, str]]:
    en = language.startswith("en")
    return [{"key": d.key, "label": d.label_en if en else d.label, "text": d.text_en if en else d.text}
            for d in DEFINITIONS]


# --- the period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Calendar days in Asia/Shanghai, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("结束日期不能早于开始日期")

    @property
    def utc_start(self) -> datetime:
        return datetime.combine(self.start, time(), SHANGHAI).astimezone(timezone.utc)

    @property
    def utc_end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), SHANGHAI).astimezone(timezone.utc)

    @classmethod
    def year_to_date(cls, now: datetime | None = None) -> Period:
        today = (now or datetime.now(timezone.utc)).astimezone(SHANGHAI).date()
        return cls(date(today.year, 1, 1), today)

    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


# --- numbers ----------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (Excel PERCENTILE.INC; p=0.5 is the median)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * p
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Figures:
    """Counts of assessed milestones by outcome, and the two rates derived from them."""

    incidents: int = 0
    met: int = 0
    met_late: int = 0
    overdue: int = 0
    waived: int = 0
    pending: int = 0
    durations: list[float] = field(default_factory=list)  # seconds from detection to meeting, met ones

    def add(self, bucket: str, count: int) -> None:
        setattr(self, bucket, getattr(self, bucket) + count)
        self.incidents += count

    def absorb(self, other: Figures) -> None:
        for bucket in BUCKETS:
            self.add(bucket, getattr(other, bucket))

    @property
    def due(self) -> int:
        return self.met + self.met_late + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.met, self.due)

    @property
    def response_rate(self) -> float | None:
        return ratio(self.met + self.met_late, self.due)

    def as_dict(self, with_durations: bool = True) -> dict:
        out = {"incidents": self.incidents, "met": self.met, "met_late": self.met_late, "overdue": self.overdue,
               "waived": self.waived, "pending": self.pending, "due": self.due,
               "on_time_rate": self.on_time_rate, "response_rate": self.response_rate}
        if with_durations:
            values = sorted(self.durations)
            out["median_seconds"] = _round(percentile(values, 0.5))
            out["p90_seconds"] = _round(percentile(values, 0.9))
            out["timed"] = len(values)
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- SQL pieces that differ by backend ----------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def month_of(session: Session, column) -> ColumnElement:
    """'YYYY-MM' of a UTC timestamp, in Beijing time (UTC+8 all year: China keeps no daylight time)."""
    if _dialect(session) == "sqlite":
        return func.strftime("%Y-%m", column, "+8 hours")
    return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")


def seconds_between(session: Session, start, end) -> ColumnElement:
    if _dialect(session) == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)  # a float, not a Decimal per row


def bucket_of(now: datetime) -> ColumnElement:
    """A milestone's outcome; a pending one past its deadline is overdue already."""
    return case(
        (Milestone.state == "met", "met"),
        (Milestone.state == "met_late", "met_late"),
        (Milestone.state == "waived", "waived"),
        (or_(Milestone.state == "overdue", Milestone.due_at <= now), "overdue"),
        else_="pending",
    )


def _scope(period: Period, party: str | None) -> list[ColumnElement]:
    conditions = [Incident.drill == false(), Incident.detected_at >= period.utc_start,
                  Incident.detected_at < period.utc_end]
    if party:
        conditions.append(Incident.party_code == party)
    return conditions


def outcome_counts_sql(session: Session, period: Period, party: str | None, now: datetime):
    """One grouped query: (party, milestone, month, outcome, level-I flag) -> count."""
    return (
        select(
            Incident.party_code.label("party"), Milestone.key.label("mkey"),
            month_of(session, Incident.detected_at).label("month"), bucket_of(now).label("bucket"),
            (Incident.level == "I").label("level_one"), func.count().label("n"),
        )
        .select_from(Milestone).join(Incident, Incident.id == Milestone.incident_id)
        .where(*_scope(period, party), Milestone.key.in_(ASSESSED))
        .group_by(literal_column("party"), literal_column("mkey"), literal_column("month"),
                  literal_column("bucket"), literal_column("level_one"))
    )


def durations_sql(session: Session, period: Period, party: str | None):
    """Seconds from detection to meeting, for every met assessed milestone."""
    return (
        select(Incident.party_code, Milestone.key,
               seconds_between(session, Incident.detected_at, Milestone.met_at).label("seconds"))
        .select_from(Milestone).join(Incident, Incident.id == Milestone.incident_id)
        .where(*_scope(period, party), Milestone.key.in_(ASSESSED), Milestone.state.in_(("met", "met_late")))
    )


def incident_counts_sql(session: Session, period: Period, party: str | None):
    return (
        select(Incident.party_code.label("party"), month_of(session, Incident.detected_at).label("month"),
               func.count().label("n"))
        .where(*_scope(period, party))
        .group_by(literal_column("party"), literal_column("month"))
    )


def assessment_statements(session: Session, period: Period, party: str | None, now: datetime) -> list:
    """The statements the assessment runs, in order (the benchmark times them bare, too)."""
    return [outcome_counts_sql(session, period, party, now), durations_sql(session, period, party),
            incident_counts_sql(session, period, party)]


# --- reports kept in memory ----------------------------------------------------------------------------

CACHE_SIZE = 32
_cache: OrderedDict[tuple, tuple[tuple, dict]] = OrderedDict()
_cache_lock = threading.Lock()
_local_writes = 0  # bumped by every write of an incident or milestone made through this process's sessions


def _bump(session: OrmSession) -> None:
    global _local_writes
    _local_writes += 1
    session.info["desk_wrote"] = True  # bump again at commit: a report made in between saw none of it


@event.listens_for(OrmSession, "after_flush")
def _count_flushed_writes(session: OrmSession, _flush_context) -> None:
    if any(isinstance(o, (Incident, Milestone)) for o in (*session.new, *session.dirty, *session.deleted)):
        _bump(session)


@event.listens_for(OrmSession, "do_orm_execute")
def _count_bulk_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _bump(state.session)


@event.listens_for(OrmSession, "after_commit")
def _count_committed_writes(session: OrmSession) -> None:
    global _local_writes
    if session.info.pop("desk_wrote", False):
        _local_writes += 1


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def stamp_sql(period: Period, party: str | None, now: datetime) -> list:
    """What the period's figures depend on, cheaply: the incidents detected in it, their event counts
    (every recorded event raises ``version``), and how many pending milestones are past due at ``now``."""
    incidents = select(func.count(), func.coalesce(func.sum(Incident.version), 0), func.max(Incident.id)).where(
        Incident.detected_at >= period.utc_start, Incident.detected_at < period.utc_end)
    # Driven from the few pending milestones (ix_milestone_state), not from the period's incidents.
    past_due = select(func.count()).select_from(Milestone).where(
        Milestone.state == "pending", Milestone.due_at <= now, Milestone.key.in_(ASSESSED),
        select(Incident.id).where(Incident.id == Milestone.incident_id, *_scope(period, party)).exists())
    return [incidents, past_due]


def _stamp(session: Session, period: Period, party: str | None, now: datetime, names: dict) -> tuple:
    # Writes by other processes (the worker) always raise a version; this process's own writes, even
    # ones that do not (tests, repairs), bump _local_writes. Party names are shown, so they count too.
    incidents_q, past_due_q = stamp_sql(period, party, now)
    return (_local_writes, tuple(session.execute(incidents_q).one()), session.execute(past_due_q).scalar_one(),
            tuple(sorted(names.items())))


# --- the assessment -----------------------------------------------------------------------------------


def assessment(session: Session, period: Period, *, party: str | None = None, now: datetime | None = None,
               language: str = "zh") -> dict:
    """Every figure of the assessment page for a period (optionally one party), as plain data.

    The result may be shared with earlier callers: read it, do not change it."""
    now = now or datetime.now(timezone.utc)
    names = dict(session.execute(select(Party.code, Party.name)).all())
    key = (str(session.get_bind().url), period, party, language)
    stamp = _stamp(session, period, party, now, names)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            _cache.move_to_end(key)
            return {**hit[1], "generated_at": now.isoformat()}
    report = compute_assessment(session, period, party=party, now=now, language=language, names=names)
    with _cache_lock:
        _cache[key] = (stamp, report)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return report


def compute_assessment(session: Session, period: Period, *, party: str | None = None, now: datetime,
                       language: str = "zh", names: dict[str, str] | None = None) -> dict:
    """The assessment computed from SQL, without the memory in front of it."""
    outcome_q, durations_q, incidents_q = assessment_statements(session, period, party, now)
    if names is None:
        names = dict(session.execute(select(Party.code, Party.name)).all())

    cells: dict[tuple[str, str], Figures] = defaultdict(Figures)  # (party, milestone)
    by_month: dict[str, Figures] = defaultdict(Figures)
    press = Figures()
    for row in session.execute(outcome_q):
        cells[(row.party, row.mkey)].add(row.bucket, row.n)
        by_month[row.month].add(row.bucket, row.n)
        if row.mkey == "press_conference" and row.level_one:
            press.add(row.bucket, row.n)

    release_hours: list[float] = []
    for party_code, key, seconds in session.execute(durations_q):
        cells[(party_code, key)].durations.append(float(seconds))
        if key == "first_release":
            release_hours.append(float(seconds) / 3600)

    incidents_by_party: dict[str, int] = defaultdict(int)
    incidents_by_month: dict[str, int] = defaultdict(int)
    for row in session.execute(incidents_q):
        incidents_by_party[row.party] += row.n
        incidents_by_month[row.month] += row.n

    parties = sorted(set(incidents_by_party) | {p for p, _ in cells}, key=lambda c: (names.get(c, c), c))
    by_milestone: dict[str, Figures] = {key: Figures() for key in ASSESSED}
    party_rows = []
    overall = Figures()
    for code in parties:
        total = Figures()
        milestones = {}
        for key in ASSESSED:
            cell = cells.get((code, key))
            if cell is None:
                continue
            total.absorb(cell)
            by_milestone[key].absorb(cell)
            by_milestone[key].durations.extend(cell.durations)
            milestones[key] = cell.as_dict()
        overall.absorb(total)
        figures = total.as_dict(with_durations=False)
        figures["incidents"] = incidents_by_party.get(code, 0)
        party_rows.append({
            "party": code, "name": names.get(code, code), "figures": figures, "milestones": milestones,
            "acknowledge": _timing(milestones.get("acknowledge")),
            "first_release": _timing(milestones.get("first_release")),
        })
    overall_dict = overall.as_dict(with_durations=False)
    overall_dict["incidents"] = sum(incidents_by_party.values())
    monthly = []
    for month in period.months():
        figures = by_month.get(month, Figures()).as_dict(with_durations=False)
        figures["incidents"] = incidents_by_month.get(month, 0)
        monthly.append({"month": month, **figures})
    press_dict = press.as_dict(with_durations=False)
    press_dict["compliance_rate"] = press_dict["on_time_rate"]
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(), "timezone": "Asia/Shanghai"},
        "party": party,
        "generated_at": now.isoformat(),
        "overall": overall_dict,
        "parties": party_rows,
        "milestones": [{"key": k, "label": _milestone_label(k, language), **by_milestone[k].as_dict()}
                       for k in ASSESSED],
        "press_conference": press_dict,
        "monthly": monthly,
        "release_distribution": release_distribution(release_hours),
        "definitions": definitions(language),
    }


def _timing(cell: dict | None) -> dict:
    if not cell:
        return {"median_seconds": None, "p90_seconds": None, "timed": 0}
    return {"median_seconds": cell["median_seconds"], "p90_seconds": cell["p90_seconds"], "timed": cell["timed"]}


def _milestone_label(key: str, language: str) -> str:
    return (MILESTONE_LABELS_EN if language.startswith("en") else MILESTONE_LABELS).get(key, key)


def release_distribution(hours: Iterable[float]) -> list[dict]:
    counts = [0] * len(RELEASE_BINS)
    for h in hours:
        for i, (upper, _label) in enumerate(RELEASE_BINS):
            if upper is None or h <= upper:
                counts[i] += 1
                break
    return [{"label": label, "upper_hours": upper, "count": n} for (upper, label), n in zip(RELEASE_BINS, counts)]


# --- CSV --------------------------------------------------------------------------------------------

BOM = "\ufeff"
SUMMARY_HEADER = ["责任单位", "单位代码", "时限", "事件数", "按时完成", "超时完成", "超期未完成", "已豁免", "未到期",
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
        for key in ASSESSED:
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


def naive_utc(dialect: str, column) -> ColumnElement:
    """A UTC time read without its zone (the detail export, the board): cheaper to read and format per row."""
    if dialect == "sqlite":
        return type_coerce(column, DateTime())  # stored as naive UTC text already
    return func.timezone("UTC", column, type_=DateTime())


def detail_sql(session: Session, period: Period, party: str | None):
    dialect = _dialect(session)
    return (
        select(Incident.human_id, Incident.title, Incident.party_code, Incident.level, Incident.category,
               naive_utc(dialect, Incident.detected_at), Milestone.key, naive_utc(dialect, Milestone.due_at),
               Milestone.state, naive_utc(dialect, Milestone.met_at), Milestone.waived_reason)
        .select_from(Milestone).join(Incident, Incident.id == Milestone.incident_id)
        .where(*_scope(period, party), Milestone.key.in_(ASSESSED))
        .order_by(Incident.detected_at, Incident.id, Milestone.key)
    )


def detail_rows(session: Session, period: Period, *, party: str | None = None,
                now: datetime | None = None) -> Iterator[list]:
    """One row per incident and assessed milestone: the evidence behind every figure.

    A year is some 40,000 rows: they stream (``yield_per``) as plain tuples, times as naive UTC."""
    now_utc = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    names = dict(session.execute(select(Party.code, Party.name)).all())
    levels = {code: f"{label}（{code}）" for code, label in LEVEL_LABELS.items()}
    yield DETAIL_HEADER
    result = session.execute(detail_sql(session, period, party).execution_options(yield_per=2000))
    last_detected, detected_text = None, ""
    for human_id, title, party_code, level, category, detected, key, due, state, met, waived in result:
        if detected != last_detected:  # an incident's milestones come together: format its time once
            last_detected, detected_text = detected, _local_naive(detected)
        if state == "pending" and due <= now_utc:
            state = "overdue"
        took = (met - detected).total_seconds() if met is not None and state in ("met", "met_late") else None
        yield [human_id, title, names.get(party_code, party_code), party_code,
               levels.get(level) or f"{level}（{level}）", CATEGORY_LABELS.get(category, category), detected_text,
               MILESTONE_LABELS.get(key, key), _local_naive(due), STATE_LABELS.get(state, state),
               _local_naive(met), _hours(took), waived or ""]


# Asia/Shanghai has been UTC+8 all year since its last daylight-saving change (tzdata: 1991-09-15 02:00 local):
# later times are shifted by eight hours, earlier ones go through the zone rules.
_FIXED_OFFSET_SINCE = datetime(1991, 9, 14, 17)  # naive UTC
_EIGHT_HOURS = timedelta(hours=8)


def _local_naive(value: datetime | None) -> str:
    """A naive UTC time as Beijing wall-clock text, "YYYY-MM-DD HH:MM:SS"."""
    if value is None:
        return ""
    if value >= _FIXED_OFFSET_SINCE:
        return (value + _EIGHT_HOURS).isoformat(" ", "seconds")
    return _local(value.replace(tzinfo=timezone.utc))


def _local(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def met_between(start: datetime, end: datetime) -> ColumnElement:
    return and_(Milestone.state.in_(("met", "met_late")), Milestone.met_at >= start, Milestone.met_at < end)
