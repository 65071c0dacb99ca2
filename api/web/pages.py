"""Page routes: login/logout, language, the incident form, the incident page and its actions, lists.

Every state change goes through desk.service (open_incident, act) and the workflow's updates, exactly
as the JSON API does; every POST carries the CSRF token; each page shows only what the role may do.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from api.auth import RESPONDER, Tokens, revoke_tokens
from api.deps import ensure_can_see, get_blobs, get_desk, get_session, get_tokens
from api.errors import status_of
from api.presenters import incident_out
from api.ratelimit import log_in
from api.routes.attachments import attachment_out, limits, uploads_of
from api.schemas import IncidentCreate
from api.web import csrf, labels, views
from api.web.security import SESSION_COOKIE, PageError, page_role, page_user, safe_next, viewer
from api.web.templating import LANG_COOKIE, language, local, render, translator
from desk import attachments as att
from desk import duplicates, release_templates, search
from desk.actions import ACTIONS, check_part, next_step
from desk.blobs import BlobStore
from desk.board import MISSED_ORDER
from desk.errors import DeskError, NotFound
from desk.filetypes import INLINE
from desk.models import Incident, IncidentTask, Milestone, Party, User, utcnow
from desk.policy import LEVELS
from desk.service import (
    SUPPORTING,
    Desk,
    act,
    get_incident,
    incident_tasks,
    open_incident,
    party_role,
    reconnect,
    supporting_parties,
    timeline_rows,
    visible_to,
)
from desk.timefmt import SHANGHAI
from desk.vocab import IncidentStatus, MilestoneState, Role

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf.verify)]
FORM_FIELDS = ("title", "summary", "source", "source_url", "category", "level", "party", "detected_at")
_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def home(user: User) -> str:
    return "/my" if user.role == RESPONDER else "/incidents"


def _parties(session: Session) -> list[Party]:
    return list(session.exec(select(Party).where(Party.active == True).order_by(Party.kind, Party.code)).all())  # noqa: E712


def _now_local() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def _choices(mapping: dict[str, str], _: Callable[..., str]) -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in mapping.items()]


# --- login, logout, language ------------------------------------------------------------------------


@router.get("/")
def index(user: User = Depends(page_user)):
    return RedirectResponse(home(user), 303)


@router.get("/login")
def login_page(request: Request, next: str = "", user: User | None = Depends(viewer)):
    if user is not None:
        return RedirectResponse(safe_next(next, home(user)), 303)
    return render(request, "login.html", {"next": safe_next(next, ""), "username": "", "error": ""})


@router.post("/login", dependencies=CSRF)
async def login(request: Request, tokens: Tokens = Depends(get_tokens)):
    form = await request.form()
    username = str(form.get("username") or "").strip()[:64]
    next_url = safe_next(str(form.get("next") or ""), "")
    try:  # the JSON API's login path: the same limiter, the password checked off the event loop
        user = await log_in(request, username, str(form.get("password") or ""))
    except HTTPException as exc:
        _ = translator(request)
        if exc.status_code == 429:
            seconds = int((exc.headers or {}).get("Retry-After", "60"))
            error = _("Too many failed logins. Try again in %(minutes)s minutes.", minutes=max(1, -(-seconds // 60)))
        elif (code := str(getattr(exc, "code", ""))) in labels.ERROR_MESSAGES:  # a directory login's refusal
            error = _(labels.ERROR_MESSAGES[code])
        else:
            error = _("Wrong user name or password.")
        response = render(request, "login.html", {"next": next_url, "username": username, "error": error},
                          status_code=exc.status_code)
        if exc.status_code == 429:
            response.headers["Retry-After"] = str(seconds)
        return response
    redirect = RedirectResponse(next_url or home(user), 303)
    redirect.set_cookie(SESSION_COOKIE, tokens.issue(user, "session"), max_age=tokens.ttl_seconds, httponly=True,
                        samesite="lax", secure=csrf.cookie_secure(request), path="/")
    return redirect


@router.post("/logout", dependencies=CSRF)
def logout(session: Session = Depends(get_session), user: User | None = Depends(viewer)):
    if user is not None:  # the cookie stops working everywhere, even a copy taken before logging out
        revoke_tokens(session, user)
        session.commit()
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language", dependencies=CSRF)
async def switch_language(request: Request, session: Session = Depends(get_session),
                          user: User | None = Depends(viewer)):
    form = await request.form()
    lang = "en" if str(form.get("language")) == "en" else "zh"
    if user is not None:  # remembered with the user, on every device
        user.language = lang
        session.add(user)
        session.commit()
    response = RedirectResponse(safe_next(str(form.get("next") or ""), "/"), 303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax", path="/",
                        secure=csrf.cookie_secure(request))
    return response


# --- lists ------------------------------------------------------------------------------------------


def _list_context(request: Request, session: Session, desk: Desk, rows: list[Incident]) -> list[dict[str, Any]]:
    """Each incident with its nearest open milestone and that milestone's countdown."""
    _ = translator(request)
    lang = language(request)
    now = utcnow()
    ids = [i.id for i in rows]
    milestones: dict[int | None, list[Milestone]] = {}  # looked up by Incident.id, int | None to the type checker
    if ids:
        for m in session.exec(select(Milestone).where(col(Milestone.incident_id).in_(ids))
                              .order_by(col(Milestone.due_at))).all():
            milestones.setdefault(m.incident_id, []).append(m)
    names = {p.code: p.name for p in session.exec(select(Party)).all()}
    items = []
    for incident in rows:
        shown = views.milestone_views(desk, incident, milestones.get(incident.id, []), now, _, lang)
        is_open = incident.status == "open"
        # Every missed deadline, the release first (desk.board.MISSED_ORDER), so a missed 48-hour release
        # never hides behind an earlier missed acknowledgement; else the next open deadline.
        missed = sorted((v for v in shown if v.open and v.tone == "red"), key=_missed_rank) if is_open else []
        next_open = (missed[0] if missed else next((v for v in shown if v.open), None)) if is_open else None
        items.append({"incident": incident, "party": names.get(incident.party_code, incident.party_code),
                      "missed": missed,
                      "level": _(labels.LEVELS.get(incident.level, incident.level)),
                      "status": _(labels.STATUSES.get(incident.status, incident.status)), "next": next_open})
    return items


def _missed_rank(view: views.MilestoneView) -> int:
    return MISSED_ORDER.index(view.key) if view.key in MISSED_ORDER else len(MISSED_ORDER)


def _urgent_first(query):
    return query.order_by(col(Incident.next_due_at).is_(None), col(Incident.next_due_at), col(Incident.id).desc())


@router.get("/my")
def my_incidents(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session),
                 desk: Desk = Depends(get_desk)):
    """A responder: its party's open incidents, most urgent first. Others: the open ones they reported."""
    _ = translator(request)
    query = select(Incident).where(Incident.status == "open")
    if user.role == RESPONDER:
        query = visible_to(query, user)
        party = session.get(Party, user.party_code)
        heading = _("Open incidents of %(party)s", party=party.name if party else user.party_code)
    else:
        query = query.where(Incident.reporter == user.username)
        heading = _("Open incidents I reported")
    rows = list(session.exec(_urgent_first(query).limit(200)).all())
    return render(request, "incidents.html", {"heading": heading, "items": _list_context(request, session, desk, rows),
                                              "filters": None, "search": None,
                                              "tasks": _open_tasks(session, user) if user.role == RESPONDER else []})


def _open_tasks(session: Session, user: User) -> list[dict[str, Any]]:
    """The 督办事项 given to the responder's party and still open, the nearest due first."""
    now = utcnow()
    rows = session.exec(select(IncidentTask, Incident.human_id).join(Incident, col(Incident.id) == col(IncidentTask.incident_id))
                        .where(IncidentTask.party_code == user.party_code, Incident.status == "open",
                               col(IncidentTask.state).in_((MilestoneState.pending, MilestoneState.overdue)))
                        .order_by(col(IncidentTask.due_at)).limit(200)).all()
    return [{"incident": human_id, "n": t.n, "text": t.text, "due_at": t.due_at,
             "overdue": t.state == MilestoneState.overdue or t.due_at <= now} for t, human_id in rows]


SEARCH_FIELDS = ("q", "detected_from", "detected_to", "party", "level", "source")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/incidents")
def list_incidents(request: Request, status: str = "open", user: User = Depends(page_user),
                   session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    """All incidents (a responder: its party's), by status, searched and filtered; the filters stay in the URL."""
    _ = translator(request)
    status = status if status in (*IncidentStatus, "all") else IncidentStatus.open
    values = {name: str(request.query_params.get(name) or "").strip()[:200] for name in SEARCH_FIELDS}
    values["q"] = str(request.query_params.get("q") or "")[:search.MAX_QUERY + 1].strip()
    errors: dict[str, str] = {}
    for name in ("detected_from", "detected_to"):
        if values[name] and _day(values[name]) is None:
            errors[name] = _("Enter a date, for example 2026-11-27.")
    rows: list[Incident] = []
    if not errors:
        try:
            filters = search.check(search.SearchFilters(
                q=values["q"], detected_from=_day(values["detected_from"]), detected_to=_day(values["detected_to"]),
                party=values["party"], level=values["level"] if values["level"] in labels.LEVELS else None,
                source=values["source"] if values["source"] in labels.SOURCES else None,
                status=None if status == "all" else status))
        except DeskError as exc:
            errors = views.desk_error_messages(exc, _)
        else:
            rows = search.urgent_first(session, visible_to(select(Incident), user), filters, limit=200)
    kept = {name: value for name, value in values.items() if value}
    filters_nav = [(urlencode({**kept, "status": code}), label, code == status) for code, label in
                   [*((s, _(labels.STATUSES[s])) for s in IncidentStatus), ("all", _("All"))]]
    return render(request, "incidents.html", {
        "heading": _("Incidents"), "filters": filters_nav, "items": _list_context(request, session, desk, rows),
        "search": {"fields": values, "status": status, "errors": errors, "active": bool(kept),
                   "parties": _parties(session) if user.role != RESPONDER else [],
                   "levels": _choices(labels.LEVELS, _), "sources": _choices(labels.SOURCES, _)},
    }, status_code=422 if errors else 200)


# --- the new-incident form --------------------------------------------------------------------------


def _form_page(request: Request, session: Session, desk: Desk, values: dict[str, Any], errors: dict[str, str],
               key: str, status_code: int = 200):
    _ = translator(request)
    try:
        start = datetime.fromisoformat(values.get("detected_at") or "").replace(tzinfo=SHANGHAI)
    except ValueError:
        start = datetime.now(SHANGHAI)
    data = views.deadline_data(desk, _, start)
    similar = duplicates.similar_incidents(session=session, title=str(values.get("title") or ""),
                                           summary=str(values.get("summary") or ""))
    return render(request, "incident_new.html", {
        "values": values, "errors": errors, "key": key, "parties": _parties(session),
        "similar": similar, "statuses": {code: _(label) for code, label in labels.STATUSES.items()},
        "levels": _choices(labels.LEVELS, _), "categories": _choices(labels.CATEGORIES, _),
        "sources": _choices(labels.SOURCES, _), "deadline_data": data,
        "preview": _preview(data, start, values, _, language(request)),
    }, status_code=status_code)


def _preview(data: dict[str, Any], start: datetime, values: dict[str, Any], _, lang: str) -> dict[str, Any]:
    """The same deadline list desk.js writes, rendered on the server for the first paint (and without JS)."""
    policy = data["drill"] if values.get("drill") else data["normal"]
    level = values.get("level") or ("IV" if values.get("category") in data["ungraded"] else "")
    if not level or level not in LEVELS:
        return {"lead": data["words"]["choose"], "rows": []}
    rows = []
    for row in policy["levels"][level]:
        if "working_days" in row:  # counted on the server from `start` (views.policy_offsets)
            if row["due"] is None:
                rows.append(data["words"]["working_row_open"] % {"label": row["label"], "n": row["working_days"]})
                continue
            due_text = datetime.fromtimestamp(row["due"] / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M")
            rows.append(data["words"]["working_row"] % {"label": row["label"], "n": row["working_days"], "due": due_text})
            continue
        due = start.timestamp() + row["seconds"]
        rows.append(data["words"]["row"] % {"label": row["label"], "span": views.span(row["seconds"], _, lang),
                                            "due": datetime.fromtimestamp(due, SHANGHAI).strftime("%Y-%m-%d %H:%M")})
    if policy["follow_up"]:
        rows.append(data["words"]["follow_up"] % {"span": views.span(policy["follow_up"], _, lang)})
    return {"lead": data["words"]["policy"] % {"name": policy["name"]}, "rows": rows}


@router.get("/incidents/new")
def new_incident(request: Request, user: User = Depends(page_role(*views.OPENERS)),
                 session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    values = {"detected_at": _now_local(), "source": "other"}
    return _form_page(request, session, desk, values, {}, f"web-{uuid.uuid4()}")


@router.post("/incidents/new", dependencies=CSRF)
async def create_incident(request: Request, user: User = Depends(page_role(*views.OPENERS)),
                          session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    _ = translator(request)
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k) or "") for k in FORM_FIELDS}
    values["drill"] = form.get("drill") in ("on", "1", "true")
    values["then"] = str(form.get("then") or "")[:60]
    values["supporting"] = [str(v) for v in form.getlist("supporting")][:30]
    key = str(form.get("idempotency_key") or "")
    key = key if _KEY.match(key) else f"web-{uuid.uuid4()}"
    data = {k: v.strip() for k, v in values.items() if isinstance(v, str) and v.strip() and k in FORM_FIELDS}
    data["title"] = values["title"]
    data["drill"] = values["drill"]
    data["supporting"] = values["supporting"]
    errors: dict[str, str] = {}
    try:
        body = IncidentCreate.model_validate(data)
    except ValidationError as exc:
        errors = views.field_errors(exc, _)
        body = None
    if not values["party"]:
        errors["party"] = _("Choose the responsible party.")
    if not values["category"]:
        errors["category"] = _("Choose a category.")
    then = _duplicate_choice(values["then"])
    if then is not None:  # the other incident is checked before anything is opened
        try:
            if then[0] == "merge":
                duplicates.merge_target(session=session, user=user, into=then[1])
            else:
                duplicates.link_target(session=session, user=user, other=then[1])
        except DeskError as exc:
            errors["then"] = views.desk_error_text(exc, _)
    if errors or body is None:
        return _form_page(request, session, desk, values, errors, key, status_code=422)
    try:
        opened = await open_incident(session=session, desk=desk, data=body, user=user, idempotency_key=key)
    except DeskError as exc:
        return _form_page(request, session, desk, values, views.desk_error_messages(exc, _), key,
                          status_code=status_of(exc))
    incident = opened.incident
    if then is None or not opened.created:
        return RedirectResponse(f"/incidents/{incident.human_id}?done=opened", 303)
    await reconnect(session)
    # Opened; now linked with, or merged into, the incident the duty officer chose (the incident page says
    # so, or shows why not under that action: the new incident stays open then).
    spec = ACTIONS[then[0]]
    try:
        body_then = spec.model.model_validate({"into" if then[0] == "merge" else "other": then[1]})
        await act(desk=desk, incident=incident, update=spec.update,
                  command=spec.build(user, body_then, session, incident))
    except DeskError as exc:
        session.refresh(incident)
        return _incident_page(request, session, desk, user, incident, status_code=status_of(exc),
                              errors={then[0]: views.desk_error_messages(exc, _)},
                              values={then[0]: {"into" if then[0] == "merge" else "other": then[1]}})
    return RedirectResponse(f"/incidents/{incident.human_id}?done={then[0]}", 303)


def _duplicate_choice(value: str) -> tuple[str, str] | None:
    """The form's "then": open only (None), or ("link" | "merge", the other incident's number)."""
    kind, _sep, other = value.partition(":")
    return (kind, other.strip()) if kind in ("link", "merge") and other.strip() else None


# --- the incident page and its actions ----------------------------------------------------------------


def _display_name(session: Session, username: str) -> str:
    user = session.exec(select(User).where(User.username == username)).first()
    return (user.display_name or user.username) if user else username


def _visible(request: Request, session: Session, user: User, human_id: str) -> Incident:
    """The incident, if this user may see it; else the 404 page in the user's language, the same for an
    incident of another party as for one that does not exist (no hint that the id is taken)."""
    _ = translator(request)
    try:
        incident = get_incident(session=session, human_id=human_id)
        ensure_can_see(session, user, incident)
    except NotFound as exc:
        raise PageError(404, views.desk_error_text(exc, _)) from None
    return incident


def _incident_page(request: Request, session: Session, desk: Desk, user: User, incident: Incident, *,
                   errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict[str, str]] | None = None,
                   done: str = "", status_code: int = 200):
    _ = translator(request)
    lang = language(request)
    now = utcnow()
    out = incident_out(session, incident)
    milestones = list(session.exec(select(Milestone).where(Milestone.incident_id == incident.id)
                                   .order_by(col(Milestone.due_at))).all())
    events, notes = timeline_rows(session=session, incident=incident)
    part = party_role(session=session, user=user, incident=incident)
    supporters = supporting_parties(session=session, incident=incident)
    tasks = incident_tasks(session=session, incident=incident)
    shared = views.shared_views(user, part, supporters, tasks, now, _, lang)
    actions = views.allowed_actions(user, incident, milestones, part, shared)
    party_name = out.party.name
    done_text = ""
    if done == "opened":
        done_text = _("Incident %(id)s opened; its deadlines are running.",
                      id=incident.human_id)
        if views.policy_of(desk, incident).escalation.on_assign:
            done_text += " " + _("A new-assignment message is on its way to %(party)s; the timeline shows when it "
                                 "arrived.", party=party_name)
    elif done in ACTIONS:
        done_text = _("Done: %(action)s.", action=_(ACTIONS[done].label))
        if done == "reassign" and views.policy_of(desk, incident).escalation.on_assign:
            done_text += " " + _("A new-assignment message is on its way to %(party)s; the timeline shows when it "
                                 "arrived.", party=party_name)
    elif done == "attachments":
        done_text = _("The files are kept as evidence and recorded in the timeline.")
    elif done == "withdrawn":
        done_text = _("The file is withdrawn; it stays listed with the reason.")
    shown_milestones = views.milestone_views(desk, incident, milestones, now, _, lang)
    # The next step is the lead's deadline: a supporting party finds its own acknowledgement among the actions.
    step = next_step(actions, [(m.key, m.due_at) for m in shown_milestones if m.open]) \
        if incident.status == "open" and part != SUPPORTING else None
    entries = [{"key": a, "label": _(ACTIONS[a].label), "rare": ACTIONS[a].rare,
                "confirm": _(ACTIONS[a].confirm, id=incident.human_id, party=party_name)} for a in actions]
    return render(request, "incident.html", {
        "incident": out,
        "reporter": _display_name(session, out.reporter),
        # the party's liaisons (its responders), with their phones: whom to call, not only which group to post to
        # the release form's three parts and its category's template, filled with this incident's facts
        "release_parts": [(part, _(label)) for part, label in labels.RELEASE_PARTS.items()],
        "release_template": release_templates.offered(session, incident)
        if any(a in ("release", "press_conference", "update") for a in actions) else None,
        "liaisons": [(u.display_name or u.username, u.phone) for u in session.exec(
            select(User).where(User.party_code == incident.party_code, User.role == Role.responder,
                               User.active == True).order_by(User.display_name)).all()],  # noqa: E712
        "level_label": _(labels.LEVELS.get(out.level, out.level)),
        "category_label": _(labels.CATEGORIES.get(out.category, out.category)),
        "source_label": _(labels.SOURCES.get(out.source, out.source)),
        "status_label": _(labels.STATUSES.get(out.status, out.status)),
        "source_href": views._http(out.source_url),
        "milestones": shown_milestones,
        "timeline": views.timeline(session, events, notes, _, local, user),
        # The next step first (what is due next and the action that completes it), then the common actions,
        # then the rare ones under "More actions".
        "next_step": None if step is None else {
            "milestone": next(m for m in shown_milestones if m.key == step[0]),
            "action": next(e for e in entries if e["key"] == step[1])},
        "actions": [e for e in entries if step is None or e["key"] != step[1]],
        "errors": errors or {}, "values": values or {}, "done": done_text,
        "now_local": _now_local(),
        "parties": [p for p in _parties(session) if p.code != incident.party_code],
        "levels": [(code, label) for code, label in _choices(labels.LEVELS, _) if code != out.level],
        "open_milestones": [(m.key, _(labels.MILESTONES.get(m.key, m.label))) for m in milestones
                            if m.state in (MilestoneState.pending, MilestoneState.overdue)]
        + [(c.key, f"{_('Supporting party')}: {c.name}" if c.key.startswith("support-") else c.name)
           for c in shared.clocks if c.open],
        "channels": [_(c) for c in labels.RELEASE_CHANNELS],
        "attachments": _attachment_views(request, session, user, incident),
        "upload_key": f"web-{uuid.uuid4()}",
        "upload_limits": {"n": request.app.state.settings.attachment_max_files,
                          "mb": views.file_size(request.app.state.settings.attachment_max_bytes).removesuffix(" MB")},
        "relations": duplicates.relations(session=session, user=user, incident=incident),
        "statuses": {code: _(label) for code, label in labels.STATUSES.items()},
        # 牵头/配合 and 督办事项: the supporting parties, the tasks, and the choices their forms offer
        "shared": shared,
        "support_parties": [p for p in _parties(session) if p.code != incident.party_code
                            and p.code not in {row.party_code for row, _name in supporters}],
        "task_parties": [(incident.party_code, party_name), *((row.party_code, name) for row, name in supporters)],
    }, status_code=status_code)


def _attachment_views(request: Request, session: Session, user: User, incident: Incident) -> list[dict[str, Any]]:
    rows = att.attachments_of(session=session, incident=incident)
    return [{**attachment_out(incident, row).model_dump(), "inline": row.content_type in INLINE,
             "uploader": _display_name(session, row.uploaded_by),
             "withdrawer": _display_name(session, row.withdrawn_by) if row.withdrawn_by else "",
             "size_text": views.file_size(row.size), "may_withdraw": att.may_withdraw(user, row)} for row in rows]


@router.get("/incidents/{human_id}")
def incident_page(request: Request, human_id: str, done: str = "", user: User = Depends(page_user),
                  session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    incident = _visible(request, session, user, human_id)
    return _incident_page(request, session, desk, user, incident, done=done[:32])


@router.post("/incidents/{human_id}/attachments", dependencies=CSRF)
async def upload_attachments(request: Request, human_id: str, user: User = Depends(page_user),
                             session: Session = Depends(get_session), desk: Desk = Depends(get_desk),
                             blobs: BlobStore = Depends(get_blobs)):
    """Several files at once (chosen, dropped, or the phone's camera); a bad one is named next to the field."""
    _ = translator(request)
    incident = _visible(request, session, user, human_id)
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    key = str(form.get("idempotency_key") or "")
    try:
        await att.add_attachments(session=session, desk=desk, store=blobs, incident=incident, user=user,
                                  uploads=uploads_of(files), limits=limits(request.app.state.settings),
                                  idempotency_key=key if _KEY.match(key) else None)
    except DeskError as exc:
        session.refresh(incident)
        return _incident_page(request, session, desk, user, incident,
                              errors={"attachments": views.desk_error_messages(exc, _)}, status_code=status_of(exc))
    return RedirectResponse(f"/incidents/{incident.human_id}?done=attachments#attachments", 303)


@router.post("/incidents/{human_id}/attachments/{key}/withdraw", dependencies=CSRF)
async def withdraw_attachment(request: Request, human_id: str, key: str, user: User = Depends(page_user),
                              session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    _ = translator(request)
    incident = _visible(request, session, user, human_id)
    form = await request.form()
    reason = str(form.get("reason") or "")[:5000]
    try:
        await att.withdraw_attachment(session=session, desk=desk, incident=incident, user=user, key=key, reason=reason)
    except DeskError as exc:
        session.refresh(incident)
        return _incident_page(request, session, desk, user, incident,
                              errors={f"withdraw-{key[:32]}": views.desk_error_messages(exc, _)},
                              values={f"withdraw-{key[:32]}": {"reason": reason}}, status_code=status_of(exc))
    return RedirectResponse(f"/incidents/{incident.human_id}?done=withdrawn#attachments", 303)


@router.post("/incidents/{human_id}/{action}", dependencies=CSRF)
async def incident_action(request: Request, human_id: str, action: str, user: User = Depends(page_user),
                          session: Session = Depends(get_session), desk: Desk = Depends(get_desk)):
    _ = translator(request)
    spec = ACTIONS.get(action)
    if spec is None:
        raise PageError(404, _("This page does not exist."))
    incident = _visible(request, session, user, human_id)
    if user.role not in spec.roles:
        raise PageError(403, _("Your role cannot take this action."))
    try:
        check_part(spec, party_role(session=session, user=user, incident=incident))
    except DeskError as exc:
        raise PageError(403, views.desk_error_text(exc, _)) from None
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in spec.model.model_fields if k in form}
    data = {k: v for k, v in values.items() if v.strip() or k not in ("released_at",)}
    try:
        body = spec.model.model_validate(data)
        if spec.precheck is not None:
            spec.precheck(incident, body)
        await act(desk=desk, incident=incident, update=spec.update, command=spec.build(user, body, session, incident))
    except ValidationError as exc:
        return _incident_page(request, session, desk, user, incident, errors={action: views.field_errors(exc, _)},
                              values={action: values}, status_code=422)
    except DeskError as exc:
        session.refresh(incident)
        return _incident_page(request, session, desk, user, incident, errors={action: views.desk_error_messages(exc, _)},
                              values={action: values}, status_code=status_of(exc))
    return RedirectResponse(f"/incidents/{incident.human_id}?done={action}", 303)
