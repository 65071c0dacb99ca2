"""/api/roster: the duty roster (值班表). The city's duty side reads it; supervisors and admins keep it (import
the office's spreadsheet, add or remove one shift)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, File, Query, UploadFile

from api.deps import CurrentUser, RowId, SessionDep, require
from api.schemas import RosterImportOut, ShiftIn, ShiftOut
from desk import roster
from desk.models import utcnow
from desk.timefmt import SHANGHAI
from desk.vocab import ROSTER_EDITORS, ROSTER_VIEWERS

router = APIRouter(prefix="/api/roster", tags=["roster"])
COLUMNS = "columns 日期, 开始时间, 结束时间, 单位 (party name or code; 市值班室: the city duty office), 值班人员, 电话"


def shift_out(s: roster.ShiftView, now: datetime) -> ShiftOut:
    return ShiftOut(id=s.id, party=s.party_code, party_name=s.party_name or roster.CITY_LABEL, username=s.username,
                    person=s.person, phone=s.phone, starts_at=s.starts_at, ends_at=s.ends_at,
                    on_duty_now=s.covers(now), personal_channel=s.personal_channel)


@router.get("", response_model=list[ShiftOut], summary="Shifts overlapping the given days (default: this week)",
            dependencies=[Depends(require(*ROSTER_VIEWERS))])
def list_shifts(session: SessionDep, start: date | None = Query(default=None, description="first day (Beijing)"),
                days: int = Query(default=7, ge=1, le=62)) -> list[ShiftOut]:
    now = utcnow()
    first = start or roster.week_of(now.astimezone(SHANGHAI).date())[0]
    if not date(2000, 1, 1) <= first <= date(2999, 12, 1):
        first = now.astimezone(SHANGHAI).date()
    begin = roster.day_bounds(first)[0]
    return [shift_out(s, now) for s in roster.shifts_between(session, begin, begin + timedelta(days=days))]


@router.post("/import", response_model=RosterImportOut, summary="Import the office's roster (.xlsx or .csv), all or nothing",
             dependencies=[Depends(require(*ROSTER_EDITORS))])
async def import_roster(session: SessionDep, user: CurrentUser, file: UploadFile = File(description=COLUMNS)) -> RosterImportOut:
    content = await file.read(roster.MAX_BYTES + 1)
    done = roster.import_roster(session, filename=file.filename or "", content=content, actor=user.username)
    return RosterImportOut(added=done.added, replaced=done.replaced, starts_at=done.starts_at, ends_at=done.ends_at)


@router.post("/shifts", status_code=201, response_model=ShiftOut, summary="Add one shift",
             dependencies=[Depends(require(*ROSTER_EDITORS))])
def add_shift(data: ShiftIn, session: SessionDep, user: CurrentUser) -> ShiftOut:
    shift = roster.add_shift(session, party=data.party or None, person=data.person, starts_at=data.starts_at,
                             ends_at=data.ends_at, phone=data.phone, actor=user.username)
    view = next(s for s in roster.shifts_between(session, shift.starts_at, shift.ends_at) if s.id == shift.id)
    return shift_out(view, utcnow())


@router.post("/shifts/{shift_id}/remove", status_code=204, summary="Remove one shift",
             dependencies=[Depends(require(*ROSTER_EDITORS))])
def remove_shift(shift_id: RowId, session: SessionDep) -> None:
    roster.remove_shift(session, shift_id=shift_id)
