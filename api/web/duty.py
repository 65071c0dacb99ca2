"""Duty pages: the roster (值班表: today's and this week's duty; import and edit for supervisors and admins) and the
shift handover (交接班: the note for my shift, handing over, taking over).

Every change goes through desk.roster and desk.handover, as the JSON API's do; every POST carries the CSRF token.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from api.deps import RowId, get_desk, get_session
from api.errors import status_of
from api.web import csrf, labels, views
from api.web.security import PageError, page_role
from api.web.templating import language, render, translator
from desk import handover, roster
from desk.errors import DeskError, InvalidInput
from desk.models import Handover, Party, User, utcnow
from desk.roster import RosterRefused
from desk.service import Desk
from desk.timefmt import SHANGHAI
from desk.vocab import ON_CITY_DUTY, ROSTER_EDITORS, ROSTER_VIEWERS, Role

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf.verify)]
SHIFT_FIELDS = ("party", "person", "starts_at", "ends_at", "phone")
CITY = "city"  # the form's value for the city duty office


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _local_input(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


# --- the roster ---------------------------------------------------------------------------------------------


def _party_label(view: roster.ShiftView, _) -> str:  # noqa: ANN001 (the page's gettext)
    return view.party_name if view.party_code else _("City duty office")


def _roster_page(request: Request, session: Session, user: User, *, week: str = "", errors: dict[str, Any] | None = None,
                 values: dict[str, str] | None = None, done: str = "", status_code: int = 200):
    _ = translator(request)
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    monday, start, end = roster.week_of(_day(week) or today)
    shifts = roster.shifts_between(session, start, end)
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        begin, finish = roster.day_bounds(day)
        days.append({"day": day, "today": day == today, "weekday": _(labels.WEEKDAYS[day.weekday()]),
                     "shifts": [s for s in shifts if s.starts_at < finish and s.ends_at > begin]})
    editing = user.role in ROSTER_EDITORS
    people: list[tuple[str, str]] = []
    parties: list[Party] = []
    if editing:
        parties = list(session.exec(select(Party).where(Party.active == True).order_by(Party.kind, Party.code)).all())  # noqa: E712
        names = {p.code: p.name for p in parties}
        for u in session.exec(select(User).where(User.active == True).order_by(col(User.role), col(User.username))).all():  # noqa: E712
            where = names.get(u.party_code or "", "") if u.role == Role.responder else _(labels.ROLES[u.role])
            people.append((u.username, f"{roster.person_name(u)} · {where}"))
    start_default = datetime.combine(today, datetime.min.time(), SHANGHAI) + timedelta(hours=8)
    return render(request, "roster.html", {
        "now": now, "today": today, "monday": monday, "days": days,
        "on_duty": [s for s in roster.shifts_between(session, now, now + timedelta(seconds=1))],
        "prev_week": (monday - timedelta(days=7)).isoformat(), "next_week": (monday + timedelta(days=7)).isoformat(),
        "this_week": monday <= today < monday + timedelta(days=7),
        "party_label": lambda s: _party_label(s, _), "editing": editing, "parties": parties, "people": people,
        "errors": errors or {}, "done": done, "city": CITY,
        "values": values or {"party": CITY, "starts_at": _local_input(start_default),
                             "ends_at": _local_input(start_default + timedelta(hours=12))},
        "columns": [(shown, _(labels.ROSTER_COLUMNS[shown])) for shown, _accepted in roster.COLUMNS.values()],
        "city_names": roster.CITY_LABEL if language(request) == "zh" else "city",  # both are read (roster.CITY_NAMES)
    }, status_code=status_code)


@router.get("/roster")
def roster_page(request: Request, week: str = "", done: str = "", user: User = Depends(page_role(*ROSTER_VIEWERS)),
                session: Session = Depends(get_session)):
    _ = translator(request)
    said = {"imported": _("The roster was imported."), "added": _("The shift was added."),
            "removed": _("The shift was removed.")}.get(done, "")
    return _roster_page(request, session, user, week=week[:10], done=said)


@router.post("/roster/import", dependencies=CSRF)
async def roster_import(request: Request, user: User = Depends(page_role(*ROSTER_EDITORS)),
                        session: Session = Depends(get_session)):
    _ = translator(request)
    form = await request.form()
    upload = form.get("file")
    filename = str(getattr(upload, "filename", "") or "")
    try:
        if upload is None or isinstance(upload, str) or not filename:
            raise InvalidInput("请选择要导入的值班表文件。", code="roster.no_file", field="file")
        content = await upload.read(roster.MAX_BYTES + 1)
        done = roster.import_roster(session, filename=filename, content=content, actor=user.username)
    except RosterRefused as exc:
        problems = [views.desk_error_text(DeskError("", code=p["code"], params=_columns(p["params"], _)), _)
                    for p in exc.params.get("problems", [])]
        return _roster_page(request, session, user, errors={"file": problems}, status_code=422)
    except DeskError as exc:
        return _roster_page(request, session, user, errors={"file": [views.desk_error_text(exc, _)]},
                            status_code=status_of(exc))
    week = done.starts_at.astimezone(SHANGHAI).date().isoformat()
    return RedirectResponse(f"/roster?week={week}&done=imported", 303)


def _columns(params: dict[str, Any], _) -> dict[str, Any]:  # noqa: ANN001 (the page's gettext)
    """A problem's column header (and the header that is missing) in the page's language."""
    said = dict(params)
    for key in ("header", "column"):
        if said.get(key) in labels.ROSTER_COLUMNS:
            said[key] = _(labels.ROSTER_COLUMNS[said[key]])
    return said


@router.post("/roster/shifts", dependencies=CSRF)
async def roster_add(request: Request, user: User = Depends(page_role(*ROSTER_EDITORS)),
                     session: Session = Depends(get_session)):
    _ = translator(request)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:64] for k in SHIFT_FIELDS}
    errors: dict[str, Any] = {}
    times: dict[str, datetime] = {}
    for name in ("starts_at", "ends_at"):
        try:
            times[name] = datetime.fromisoformat(values[name]).replace(tzinfo=SHANGHAI)
        except ValueError:
            errors[name] = _("Enter a date and time, for example 2026-11-27 09:30.")
    if not values["person"]:
        errors["person"] = _("Choose the person on duty.")
    if not errors:
        try:
            roster.add_shift(session, party=None if values["party"] in ("", CITY) else values["party"],
                             person=values["person"], starts_at=times["starts_at"], ends_at=times["ends_at"],
                             phone=values["phone"], actor=user.username)
        except DeskError as exc:
            errors = views.desk_error_messages(exc, _)
    if errors:
        return _roster_page(request, session, user, errors=errors, values=values, status_code=422)
    return RedirectResponse(f"/roster?week={times['starts_at'].date().isoformat()}&done=added", 303)


@router.post("/roster/shifts/{shift_id}/remove", dependencies=CSRF)
def roster_remove(request: Request, shift_id: RowId, user: User = Depends(page_role(*ROSTER_EDITORS)),
                  session: Session = Depends(get_session)):
    _ = translator(request)
    try:
        roster.remove_shift(session, shift_id=shift_id)
    except DeskError as exc:
        raise PageError(status_of(exc), views.desk_error_text(exc, _)) from None
    return RedirectResponse("/roster?done=removed", 303)


# --- the handover -------------------------------------------------------------------------------------------


def note_view(note: dict[str, Any], _) -> dict[str, Any]:  # noqa: ANN001 (the page's gettext)
    """The stored note (desk.handover.handover_note) as the page shows it, in the viewer's language."""
    incidents = []
    for i in note.get("incidents", []):
        deadlines = [{"label": _(labels.MILESTONES[d["key"]]) if d["key"] in labels.MILESTONES else d["label"],
                      "due_at": _when(d["due_at"]), "state": d["state"],
                      "state_label": _(labels.MILESTONE_STATES.get(d["state"], d["state"]))}
                     for d in i.get("deadlines", [])]
        incidents.append({**i, "level_label": _(labels.LEVELS.get(i["level"], i["level"])), "deadlines": deadlines})
    events = [{**e, "at": _when(e["at"]), "label": _(labels.EVENTS.get(e["kind"], e["kind"]))}
              for e in note.get("events", [])]
    window = note.get("window", {})
    return {"incidents": incidents, "events": events, "more_events": note.get("more_events", False),
            "pending": {k: v for k, v in (note.get("pending") or {}).items() if v},
            "start": _when(window.get("start")), "end": _when(window.get("end"))}


def _names(session: Session, usernames: set[str]) -> dict[str, str]:
    rows = session.exec(select(User).where(col(User.username).in_(usernames))).all() if usernames else []
    return {u.username: roster.person_name(u) for u in rows}


def _row_view(row: Handover, names: dict[str, str], _) -> dict[str, Any]:  # noqa: ANN001 (the page's gettext)
    return {"row": row, "outgoing": names.get(row.outgoing, row.outgoing), "incoming": names.get(row.incoming, row.incoming),
            "status_label": _(labels.HANDOVER_STATUSES.get(row.status, row.status))}


def _handover_page(request: Request, session: Session, user: User, *, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, status_code: int = 200):
    _ = translator(request)
    d = handover.draft(session, user=user)
    recent = handover.recent_handovers(session, limit=10)
    mine = handover.awaiting(session, username=user.username)
    names = _names(session, {h.outgoing for h in recent + mine} | {h.incoming for h in recent + mine})
    return render(request, "handover.html", {
        "draft": d, "note": note_view(d.note, _), "awaiting": [_row_view(h, names, _) for h in mine],
        "recent": [_row_view(h, names, _) for h in recent], "errors": errors or {},
        "values": values or {"incoming": d.incoming or "", "remarks": ""},
        "takers": [(u.username, f"{roster.person_name(u)} · {_(labels.ROLES[u.role])}") for u in d.candidates],
    }, status_code=status_code)


@router.get("/handover")
def handover_page(request: Request, user: User = Depends(page_role(*ON_CITY_DUTY)),
                  session: Session = Depends(get_session)):
    return _handover_page(request, session, user)


@router.post("/handover", dependencies=CSRF)
async def hand_over(request: Request, user: User = Depends(page_role(*ON_CITY_DUTY)),
                    session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    _ = translator(request)
    form = await request.form()
    values = {"incoming": str(form.get("incoming") or "").strip()[:64], "remarks": str(form.get("remarks") or "")[:4000]}
    try:
        row = await handover.hand_over(session=session, desk=desk, user=user, incoming=values["incoming"],
                                       remarks=values["remarks"])
    except DeskError as exc:
        return _handover_page(request, session, user, errors=views.desk_error_messages(exc, _), values=values,
                              status_code=status_of(exc))
    return RedirectResponse(f"/handover/{row.id}?done=handed_over", 303)


@router.get("/handover/{handover_id}")
def handover_view(request: Request, handover_id: RowId, done: str = "", user: User = Depends(page_role(*ON_CITY_DUTY)),
                  session: Session = Depends(get_session)):
    _ = translator(request)
    try:
        row = handover.get_handover(session, handover_id)
    except DeskError as exc:
        raise PageError(404, views.desk_error_text(exc, _)) from None
    names = _names(session, {row.outgoing, row.incoming})
    said = {"handed_over": _("Handed over. The incoming officer is asked to confirm."),
            "confirmed": _("You took the shift over.")}.get(done, "")
    attempts = [{**a, "at": _when(a.get("at")), "status_label": _(labels.DELIVERY.get(a.get("status", ""), a.get("status", "")))}
                for a in row.escalation]
    return render(request, "handover_view.html", {
        "h": _row_view(row, names, _), "note": note_view(row.note, _), "done": said, "attempts": attempts,
        "can_confirm": row.confirmed_at is None and row.incoming == user.username,
    })


@router.post("/handover/{handover_id}/confirm", dependencies=CSRF)
async def confirm(request: Request, handover_id: RowId, user: User = Depends(page_role(*ON_CITY_DUTY)),
                  session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    _ = translator(request)
    try:
        await handover.confirm_handover(session=session, desk=desk, user=user, handover_id=handover_id)
    except DeskError as exc:  # not the incoming officer, confirmed already, no such handover
        raise PageError(status_of(exc), views.desk_error_text(exc, _)) from None
    return RedirectResponse(f"/handover/{handover_id}?done=confirmed", 303)
