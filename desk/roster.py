"""The duty roster (值班表): who is on duty when — the city's duty officers (市值班室) and each party's liaison on
duty (值班联络员). HTTP-free, like desk/service.py.

The roster comes from the spreadsheet the office already keeps (.xlsx or .csv, one shift a row) or from the
roster page, one shift at a time. An import is all or nothing: every row is checked first (the party, the
person, the times, no overlap), each problem named by its row and column, and the file is refused whole if
any row is wrong. A good file replaces the shifts of the period it covers (a corrected week re-imported
replaces that week). Times are Beijing time in the sheet, stored as UTC.

``recipients_on_duty`` is what delivery asks (activities/notify.py): the people on duty for a party at a
moment, with their own notify URL.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, delete, select

from desk.errors import InvalidInput, NotFound
from desk.models import DutyShift, NotificationChannel, Party, User
from desk.timefmt import SHANGHAI
from desk.vocab import ON_CITY_DUTY, Audience, Role

# What the party column says for the city's own duty office (a shift with no party).
CITY_NAMES = ("市值班室", "市政府总值班室", "市值班", "city")
CITY_LABEL = CITY_NAMES[0]
MAX_ROWS = 5000
MAX_BYTES = 1024 * 1024  # the request cap (api/limits.py) too; a month of shifts is a few dozen KB
MAX_PROBLEMS = 20  # a file wrong everywhere is named by its first problems, not a page of them
MAX_SHIFT = timedelta(hours=48)

# field -> (the header named in errors, the headers accepted)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "date": ("日期", ("日期", "值班日期", "date")),
    "start": ("开始时间", ("开始时间", "开始", "上班时间", "start")),
    "end": ("结束时间", ("结束时间", "结束", "下班时间", "end")),
    "party": ("单位", ("单位", "值班单位", "责任单位", "party")),
    "person": ("值班人员", ("值班人员", "值班人", "姓名", "人员", "person", "username")),
    "phone": ("电话", ("电话", "联系电话", "手机", "phone")),
}
REQUIRED = ("date", "start", "end", "party", "person")

# The Chinese sentence of each problem (the JSON API's answer); the pages say them from api.web.labels by code.
SENTENCES = {
    "roster.file_type": "请上传 .xlsx 或 .csv 格式的值班表。",
    "roster.too_big": "文件太大（超过 %(mb)s MB），请只导入需要的时段。",
    "roster.unreadable": "无法读取该文件（%(kind)s），请用 Excel 另存为 .xlsx 或 .csv 后重试。",
    "roster.empty": "值班表中没有值班记录。",
    "roster.too_many_rows": "值班表超过 %(max)s 行，请分批导入。",
    "roster.missing_column": "表头缺少“%(column)s”列（第 %(row)s 行是表头）。",
    "roster.missing_value": "第 %(row)s 行 %(col)s 列（%(header)s）为空。",
    "roster.bad_date": "第 %(row)s 行 %(col)s 列（%(header)s）：“%(value)s”不是日期，请写成 2026-12-01。",
    "roster.bad_time": "第 %(row)s 行 %(col)s 列（%(header)s）：“%(value)s”不是时间，请写成 08:30。",
    "roster.same_time": "第 %(row)s 行：结束时间与开始时间相同。",
    "roster.unknown_party": "第 %(row)s 行 %(col)s 列（%(header)s）：没有名为“%(value)s”的单位，请填写单位全称或代码，"
                            "市值班室填“市值班室”。",
    "roster.unknown_person": "第 %(row)s 行 %(col)s 列（%(header)s）：没有名为“%(value)s”的在用账号，请填写用户名或姓名。",
    "roster.ambiguous_person": "第 %(row)s 行 %(col)s 列（%(header)s）：“%(value)s”对应多个账号，请改填用户名。",
    "roster.not_liaison": "第 %(row)s 行：%(person)s 不是%(party)s的联络员，不能排该单位的值班。",
    "roster.not_city_duty": "第 %(row)s 行：%(person)s 是责任单位联络员，不能排市值班室的值班。",
    "roster.overlap_person": "第 %(first)s 行与第 %(row)s 行：%(person)s 的值班时间重叠。",
    "roster.overlap_party": "第 %(first)s 行与第 %(row)s 行：%(party)s同一时段排了两名值班联络员。",
    "roster.more_problems": "另有 %(n)s 处问题未列出。",
    # one shift from the page
    "shift.ends_before_start": "结束时间须晚于开始时间。",
    "shift.too_long": "一个班次不能超过 48 小时。",
    "shift.unknown_person": "请从列表中选择值班人员。",
    "shift.not_liaison": "%(person)s 不是%(party)s的联络员，不能排该单位的值班。",
    "shift.not_city_duty": "%(person)s 是责任单位联络员，不能排市值班室的值班。",
    "shift.overlap_person": "%(person)s 在 %(start)s 至 %(end)s 已有值班。",
    "shift.overlap_party": "%(party)s在 %(start)s 至 %(end)s 已有值班联络员（%(person)s）。",
}


def _say(code: str, **params: Any) -> str:
    return SENTENCES[code] % params if params else SENTENCES[code]


@dataclass
class Problem:
    """One thing wrong with the file: its code and params (the pages' catalog key), its Chinese sentence."""

    code: str
    params: dict[str, Any]

    @property
    def sentence(self) -> str:
        return _say(self.code, **self.params)


class RosterRefused(InvalidInput):
    """The file was refused whole; ``problems`` names each wrong row (the first MAX_PROBLEMS)."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        sentence = " ".join(p.sentence for p in problems)
        super().__init__(sentence, code=first.code, field="file",
                         params={**first.params, "problems": [{"code": p.code, "params": p.params} for p in problems]})
        self.problems = problems


def _refuse(code: str, **params: Any) -> RosterRefused:
    return RosterRefused([Problem(code, params)])


def shift_error(code: str, field_name: str, **params: Any) -> InvalidInput:
    return InvalidInput(_say(code, **params), code=code, field=field_name, params=params)


# --- reading the sheet --------------------------------------------------------------------------------------


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: as the spreadsheet names its columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_rows(filename: str, content: bytes) -> list[tuple[int, list[Any]]]:
    """The sheet's non-empty rows as (row number, cells). Raises RosterRefused for a file it cannot read."""
    if len(content) > MAX_BYTES:
        raise _refuse("roster.too_big", mb=MAX_BYTES // (1024 * 1024))
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or (not name.endswith(".csv") and content[:2] == b"PK"):
        rows = _xlsx_rows(content)
    elif name.endswith(".csv"):
        rows = _csv_rows(content)
    else:
        raise _refuse("roster.file_type")
    return [(n, cells) for n, cells in rows if any(_text(c) for c in cells)]


def _xlsx_rows(content: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = book.active or book.worksheets[0]
            rows = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
                rows.append((number, list(values)))
                if number > MAX_ROWS + 50:
                    break
            return rows
        finally:
            book.close()
    except Exception:  # noqa: BLE001 (a zip that is not a workbook fails in many ways; each means the same)
        raise _refuse("roster.unreadable", kind="xlsx") from None


def _csv_rows(content: bytes) -> list[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in a Chinese office saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _refuse("roster.unreadable", kind="csv")
    try:
        return list(enumerate(csv.reader(io.StringIO(text)), 1))
    except csv.Error:
        raise _refuse("roster.unreadable", kind="csv") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_TIME = re.compile(r"^(\d{1,2})[:：](\d{2})(?:[:：]\d{2})?$")


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _minutes(value: Any) -> int | None:
    """Minutes after midnight (0..1440; 24:00 is the end of the day), or None if not a time."""
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return value.hour * 60 + value.minute
    if isinstance(value, timedelta):  # a duration-formatted cell
        minutes = round(value.total_seconds() / 60)
        return minutes if 0 <= minutes <= 1440 else None
    if isinstance(value, float) and 0 <= value <= 1:  # Excel's fraction of a day
        return round(value * 1440)
    found = _TIME.match(_text(value))
    if not found:
        return None
    hours, minutes = int(found.group(1)), int(found.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


# --- checking the rows --------------------------------------------------------------------------------------


@dataclass
class ShiftDraft:
    row: int
    party_code: str | None
    user: User
    starts_at: datetime
    ends_at: datetime
    phone: str = ""


@dataclass
class _Directory:
    """The parties and people a row may name, read once per import."""

    parties: dict[str, Party] = field(default_factory=dict)  # by code and by name
    users: dict[str, list[User]] = field(default_factory=dict)  # by username and by display name

    @classmethod
    def read(cls, session: Session) -> _Directory:
        d = cls()
        for p in session.exec(select(Party).where(Party.active == True)).all():  # noqa: E712
            d.parties[p.code] = d.parties[p.name] = p
        for u in session.exec(select(User).where(User.active == True)).all():  # noqa: E712
            d.users.setdefault(u.username, []).append(u)
            if u.display_name and u.display_name != u.username:
                d.users.setdefault(u.display_name, []).append(u)
        return d

    def person(self, name: str) -> list[User]:
        found = self.users.get(name, [])
        exact = [u for u in found if u.username == name]
        return exact or found


def person_name(user: User) -> str:
    return user.display_name or user.username


def _role_problem(user: User, party: Party | None) -> tuple[str, dict[str, Any]] | None:
    """A party's shift is for that party's liaison; the city's for its duty side, never a party's liaison."""
    if party is None:
        if user.role not in ON_CITY_DUTY:
            return "not_city_duty", {"person": person_name(user)}
    elif user.role != Role.responder or user.party_code != party.code:
        return "not_liaison", {"person": person_name(user), "party": party.name}
    return None


def parse_roster(session: Session, *, filename: str, content: bytes) -> list[ShiftDraft]:
    """Every shift of the file, checked; RosterRefused naming the rows (and columns) that are wrong."""
    rows = read_rows(filename, content)
    if not rows:
        raise _refuse("roster.empty")
    header_row, header = rows[0]
    where: dict[str, int] = {}
    for index, cell in enumerate(header):
        title = _text(cell).lower()
        for name, (_shown, accepted) in COLUMNS.items():
            if title in accepted and name not in where:
                where[name] = index
    missing = [COLUMNS[name][0] for name in REQUIRED if name not in where]
    if missing:
        raise RosterRefused([Problem("roster.missing_column", {"column": m, "row": header_row}) for m in missing])
    body = rows[1:]
    if not body:
        raise _refuse("roster.empty")
    if len(body) > MAX_ROWS:
        raise _refuse("roster.too_many_rows", max=MAX_ROWS)

    directory = _Directory.read(session)
    problems: list[Problem] = []
    drafts: list[ShiftDraft] = []
    for number, cells in body:
        def cell(name: str, cells: list[Any] = cells) -> Any:
            index = where.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        def at(name: str, number: int = number) -> dict[str, Any]:
            return {"row": number, "col": column_letter(where[name]), "header": COLUMNS[name][0]}

        row_problems: list[Problem] = []
        empty = [name for name in REQUIRED if not _text(cell(name))]
        for name in empty:
            row_problems.append(Problem("roster.missing_value", at(name)))
        day = None if "date" in empty else _date(cell("date"))
        if day is None and "date" not in empty:
            row_problems.append(Problem("roster.bad_date", {**at("date"), "value": _text(cell("date"))[:40]}))
        start = None if "start" in empty else _minutes(cell("start"))
        if start is None and "start" not in empty:
            row_problems.append(Problem("roster.bad_time", {**at("start"), "value": _text(cell("start"))[:40]}))
        end = None if "end" in empty else _minutes(cell("end"))
        if end is None and "end" not in empty:
            row_problems.append(Problem("roster.bad_time", {**at("end"), "value": _text(cell("end"))[:40]}))
        party_text = _text(cell("party"))
        party: Party | None = None
        city = party_text in CITY_NAMES or party_text.lower() == "city"
        if party_text and not city:
            party = directory.parties.get(party_text)
            if party is None:
                row_problems.append(Problem("roster.unknown_party", {**at("party"), "value": party_text[:60]}))
        person_text = _text(cell("person"))
        user: User | None = None
        if person_text:
            matches = directory.person(person_text)
            if not matches:
                row_problems.append(Problem("roster.unknown_person", {**at("person"), "value": person_text[:60]}))
            elif len(matches) > 1:
                row_problems.append(Problem("roster.ambiguous_person", {**at("person"), "value": person_text[:60]}))
            else:
                user = matches[0]
        if user is not None and (party is not None or city):
            wrong = _role_problem(user, party)
            if wrong:
                row_problems.append(Problem(f"roster.{wrong[0]}", {"row": number, **wrong[1]}))
        if start is not None and end is not None and start == end:
            row_problems.append(Problem("roster.same_time", {"row": number}))
        if row_problems:
            problems.extend(row_problems)
            continue
        assert day is not None and start is not None and end is not None and user is not None
        midnight = datetime.combine(day, time(0), SHANGHAI)
        starts_at = midnight + timedelta(minutes=start)
        ends_at = midnight + timedelta(minutes=end if end > start else end + 1440)  # past midnight: the next day
        drafts.append(ShiftDraft(row=number, party_code=party.code if party else None, user=user,
                                 starts_at=starts_at.astimezone(UTC), ends_at=ends_at.astimezone(UTC),
                                 phone=_text(cell("phone"))[:32]))
    problems.extend(_overlaps(drafts, {p.code: p.name for p in directory.parties.values()}))
    if problems:
        shown = sorted(problems, key=lambda p: p.params.get("row", 0))[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem("roster.more_problems", {"n": len(problems) - MAX_PROBLEMS}))
        raise RosterRefused(shown)
    return drafts


def _overlaps(drafts: list[ShiftDraft], party_names: dict[str, str]) -> list[Problem]:
    """A person twice at once, or a party with two liaisons at once: each later row named with the earlier."""
    problems: list[Problem] = []
    by_person: dict[int | None, list[ShiftDraft]] = {}
    by_party: dict[str, list[ShiftDraft]] = {}
    for d in drafts:
        by_person.setdefault(d.user.id, []).append(d)
        if d.party_code:
            by_party.setdefault(d.party_code, []).append(d)
    for group, code in ((by_person, "roster.overlap_person"), (by_party, "roster.overlap_party")):
        for shifts in group.values():
            shifts.sort(key=lambda d: (d.starts_at, d.row))
            latest = shifts[0] if shifts else None
            for d in shifts[1:]:
                assert latest is not None
                if d.starts_at < latest.ends_at:
                    first, second = sorted((latest.row, d.row))
                    params: dict[str, Any] = {"first": first, "row": second}
                    if code == "roster.overlap_person":
                        params["person"] = person_name(d.user)
                    else:
                        params["party"] = party_names.get(d.party_code or "", d.party_code)
                    problems.append(Problem(code, params))
                if d.ends_at > latest.ends_at:
                    latest = d
    return problems


@dataclass
class Imported:
    added: int
    replaced: int
    starts_at: datetime
    ends_at: datetime


def import_roster(session: Session, *, filename: str, content: bytes, actor: str) -> Imported:
    """Check the whole file, then replace the shifts of the period it covers with its rows, in one transaction."""
    drafts = parse_roster(session, filename=filename, content=content)
    start = min(d.starts_at for d in drafts)
    end = max(d.ends_at for d in drafts)
    try:
        replaced = session.exec(delete(DutyShift).where(col(DutyShift.starts_at) < end,
                                                        col(DutyShift.ends_at) > start)).rowcount
        for d in drafts:
            assert d.user.id is not None
            session.add(DutyShift(party_code=d.party_code, user_id=d.user.id, starts_at=d.starts_at,
                                  ends_at=d.ends_at, phone=d.phone, created_by=actor))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return Imported(added=len(drafts), replaced=replaced or 0, starts_at=start, ends_at=end)


# --- one shift from the page --------------------------------------------------------------------------------


def add_shift(session: Session, *, party: str | None, person: str, starts_at: datetime, ends_at: datetime,
              actor: str, phone: str = "") -> DutyShift:
    """Add one shift. ``party`` None (or a CITY_NAMES entry): the city duty office. InvalidInput on the field."""
    party_row: Party | None = None
    if party and party not in CITY_NAMES:
        party_row = session.get(Party, party)
        if party_row is None or not party_row.active:
            raise InvalidInput(f"未知的责任单位代码：{party[:64]}", code="party.unknown", field="party",
                               params={"party": party[:64]})
    user = session.exec(select(User).where(User.username == person, User.active == True)).first()  # noqa: E712
    if user is None:
        raise shift_error("shift.unknown_person", "person")
    wrong = _role_problem(user, party_row)
    if wrong:
        raise shift_error(f"shift.{wrong[0]}", "person", **wrong[1])
    if ends_at <= starts_at:
        raise shift_error("shift.ends_before_start", "ends_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise shift_error("shift.too_long", "ends_at")
    clash = session.exec(select(DutyShift).where(DutyShift.user_id == user.id, col(DutyShift.starts_at) < ends_at,
                                                 col(DutyShift.ends_at) > starts_at)).first()
    if clash is not None:
        raise shift_error("shift.overlap_person", "starts_at", person=person_name(user), **_span(clash))
    if party_row is not None:
        clash = session.exec(select(DutyShift).where(DutyShift.party_code == party_row.code,
                                                     col(DutyShift.starts_at) < ends_at,
                                                     col(DutyShift.ends_at) > starts_at)).first()
        if clash is not None:
            other = session.get(User, clash.user_id)
            raise shift_error("shift.overlap_party", "starts_at", party=party_row.name,
                              person=person_name(other) if other else "", **_span(clash))
    assert user.id is not None
    shift = DutyShift(party_code=party_row.code if party_row else None, user_id=user.id,
                      starts_at=starts_at.astimezone(UTC), ends_at=ends_at.astimezone(UTC), phone=phone.strip()[:32],
                      created_by=actor)
    session.add(shift)
    session.commit()
    session.refresh(shift)
    return shift


def _span(shift: DutyShift) -> dict[str, str]:
    fmt = "%m-%d %H:%M"
    return {"start": shift.starts_at.astimezone(SHANGHAI).strftime(fmt),
            "end": shift.ends_at.astimezone(SHANGHAI).strftime(fmt)}


def remove_shift(session: Session, *, shift_id: int) -> None:
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise NotFound(f"没有编号为 {shift_id} 的值班记录。", code="shift.not_found", params={"id": shift_id})
    session.delete(shift)
    session.commit()


# --- reading the roster -------------------------------------------------------------------------------------


@dataclass
class ShiftView:
    id: int
    party_code: str | None  # None: the city duty office
    party_name: str
    username: str
    person: str
    phone: str
    starts_at: datetime
    ends_at: datetime
    personal_channel: bool  # the person has a notify URL of their own (never shown)

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


def shifts_between(session: Session, start: datetime, end: datetime, *, party: str | None = None) -> list[ShiftView]:
    """The shifts that overlap [start, end), city duty first, then by party and time."""
    query = select(DutyShift, User).join(User, col(User.id) == DutyShift.user_id).where(
        col(DutyShift.starts_at) < end, col(DutyShift.ends_at) > start)
    if party is not None:
        query = query.where(DutyShift.party_code == party)
    names = {p.code: p.name for p in session.exec(select(Party)).all()}
    found = session.exec(query).all()
    own = set(own_channels(session, [u.id for _, u in found if u.id]))
    views = [ShiftView(id=s.id or 0, party_code=s.party_code, party_name=names.get(s.party_code or "", ""),
                       username=u.username, person=person_name(u), phone=s.phone or u.phone, starts_at=s.starts_at,
                       ends_at=s.ends_at, personal_channel=u.id in own)
             for s, u in found]
    views.sort(key=lambda v: (v.party_code is not None, v.party_code or "", v.starts_at, v.person))
    return views


@dataclass
class OnDuty:
    """A person on duty for a party (or the city), as delivery and the handover need them."""

    user_id: int
    username: str
    person: str
    phone: str
    notify_urls: list[str]  # the person's own apprise URLs (their on-duty channels on the admin pages)


def recipients_on_duty(session: Session, *, party: str | None, at: datetime) -> list[OnDuty]:
    """Who is on duty for ``party`` (None: the city duty office) at ``at``: active users, with their own URL."""
    query = select(DutyShift, User).join(User, col(User.id) == DutyShift.user_id).where(
        col(DutyShift.starts_at) <= at, col(DutyShift.ends_at) > at, User.active == True)  # noqa: E712
    query = query.where(col(DutyShift.party_code).is_(None) if party is None else DutyShift.party_code == party)
    found = session.exec(query.order_by(col(DutyShift.starts_at))).all()
    urls = own_channels(session, [u.id for _, u in found if u.id])
    return [OnDuty(user_id=u.id or 0, username=u.username, person=person_name(u), phone=s.phone or u.phone,
                   notify_urls=urls.get(u.id or 0, []))
            for s, u in found]


def own_channels(session: Session, user_ids: list[int]) -> dict[int, list[str]]:
    """Each person's own on-duty channels (``NotificationChannel`` rows for the person, audience on_duty): the one
    place a person's URL is kept, added on the admin channels page or with ``opinion-desk user notify-url``."""
    if not user_ids:
        return {}
    out: dict[int, list[str]] = {}
    for user_id, url in session.exec(select(NotificationChannel.user_id, NotificationChannel.url).where(
            col(NotificationChannel.user_id).in_(user_ids), NotificationChannel.audience == Audience.on_duty)
            .order_by(col(NotificationChannel.id))).all():
        out.setdefault(user_id or 0, []).append(url)
    return out


def personal_urls_on_duty(session: Session, *, tags: Iterable[str], at: datetime) -> list[tuple[str, str]]:
    """(tag, URL) for each tag that is a party's code and each of its liaisons on duty with a URL of their own:
    by tag, then shift (as ``recipients_on_duty`` lists them), then URL (as ``own_channels``). One statement: every
    delivery asks (a shift's party is a party's code, so another tag finds nobody)."""
    order = {tag: n for n, tag in enumerate(dict.fromkeys(tags))}
    if not order:
        return []
    found = session.exec(
        select(DutyShift.party_code, NotificationChannel.url)
        .join(User, col(User.id) == DutyShift.user_id)
        .join(NotificationChannel, col(NotificationChannel.user_id) == col(User.id))
        .where(col(DutyShift.party_code).in_(order), col(DutyShift.starts_at) <= at, col(DutyShift.ends_at) > at,
               User.active == True, NotificationChannel.audience == Audience.on_duty)  # noqa: E712
        .order_by(col(DutyShift.starts_at), col(DutyShift.id), col(NotificationChannel.id))).all()
    return sorted(((tag or "", url) for tag, url in found), key=lambda row: order[row[0]])


def week_of(day: date) -> tuple[date, datetime, datetime]:
    """The Monday of ``day``'s week and the week's bounds (Beijing time, as UTC)."""
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(0), SHANGHAI)
    return monday, start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
