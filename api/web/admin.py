"""Admin pages: users, parties, notification channels (with a test message), the policy in force, and the
audit log (which supervisors may read too).

Every change goes through the service (desk.users, desk.parties, desk.channels), which checks it, writes it
with its audit entry in one commit, or refuses it with a sentence for the field (nothing half-written).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlmodel import Session, col, select

from api.deps import get_desk, get_session
from api.web import csrf, labels, views
from api.web.i18n import N_
from api.web.security import PageError, page_role
from api.web.templating import language, render, translator
from desk import audit, channels, parties, users
from desk.coverage import configured_tags
from desk.db import session_scope
from desk.errors import DeskError
from desk.masking import redact
from desk.models import NotificationChannel, Party, User
from desk.policy import LEVELS, Policy
from desk.service import Desk
from desk.timefmt import SHANGHAI
from desk.vocab import AUDIT_READERS, Audience, Role

router = APIRouter(include_in_schema=False)
CSRF = [Depends(csrf.verify)]
ADMIN_ONLY = page_role(Role.admin)
TABS = (("/admin/users", N_("Users")), ("/admin/parties", N_("Parties")),
        ("/admin/channels", N_("Notification channels")), ("/admin/policy", N_("Policy in force")),
        ("/admin/audit", N_("Audit log")))
USER_FIELDS = ("username", "display_name", "role", "party", "language", "phone")


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200):
    _ = translator(request)
    user = request.state.user
    tabs = [(href, _(label), request.url.path.startswith(href)) for href, label in TABS
            if user.role == Role.admin or href == "/admin/audit"]
    return render(request, name, {"tabs": tabs, **context}, status_code=status_code)


def _errors(request: Request, exc: DeskError) -> dict[str, str]:
    return views.desk_error_messages(exc, translator(request))


def _changed(request: Request) -> None:
    """A channel or party changed: the 'reaches no one' banner is read again on the next page."""
    request.app.state.coverage = None


def _form(data: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(data.get(name) or "").strip() for name in names}


def _done(path: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': what})}", 303)


DONE = {
    "user_added": N_("User added."), "user_saved": N_("Saved; a new role or party ends the user's sessions."),
    "password": N_("New password set; every session and token of the user has ended."),
    "disabled": N_("User disabled; every session and token of the user has ended."),
    "enabled": N_("User enabled."), "party_added": N_("Party added."),
    "party_saved": N_("Party saved."), "deactivated": N_("Party deactivated: no longer offered for new incidents."),
    "activated": N_("Party activated."), "deleted": N_("Party deleted."),
    "channel_added": N_("Channel added. Its address is no longer shown; send a test message to check it."),
    "channel_removed": N_("Channel removed."),
}


def _flash(request: Request) -> str:
    key = request.query_params.get("done", "")
    return translator(request)(DONE[key]) if key in DONE else ""


def _choices(mapping: dict[str, str], _) -> list[tuple[str, str]]:  # noqa: ANN001 (a gettext)
    return [(code, _(label)) for code, label in mapping.items()]


# --- users ----------------------------------------------------------------------------------------------


def _party_names(session: Session) -> dict[str, str]:
    return {p.code: p.name for p in session.exec(select(Party)).all()}


def _users_page(request: Request, session: Session, values: dict[str, str], errors: dict[str, str],
                status_code: int = 200):
    _ = translator(request)
    return _page(request, "admin/users.html", {
        "users": list(session.exec(select(User).order_by(col(User.active).desc(), User.role, User.username)).all()),
        "party_names": _party_names(session), "parties": parties.all_parties(session),
        "roles": _choices(labels.ROLES, _), "role_names": {c: _(v) for c, v in labels.ROLES.items()},
        "values": values, "errors": errors, "flash": _flash(request),
    }, status_code=status_code)


@router.get("/admin")
def admin_home(user: User = Depends(page_role(*AUDIT_READERS))):
    return RedirectResponse("/admin/users" if user.role == Role.admin else "/admin/audit", 303)


@router.get("/admin/users")
def users_page(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    return _users_page(request, session, {"role": Role.responder, "language": "zh"}, {})


@router.post("/admin/users", dependencies=CSRF)
async def add_user(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    form = await request.form()
    values = _form(form, USER_FIELDS)
    try:
        users.create_user(session, username=values["username"], password=str(form.get("password") or ""),
                          role=values["role"], party_code=values["party"] or None,
                          display_name=values["display_name"], language=values["language"] or "zh",
                          phone=values["phone"], actor=user.username)
    except DeskError as exc:
        session.rollback()
        return _users_page(request, session, values, _errors(request, exc), status_code=422)
    return _done("/admin/users", "user_added")


def _user_or_404(request: Request, session: Session, username: str) -> User:
    found = users.get_user(session, username)
    if found is None:
        raise PageError(404, translator(request)("There is no user %(name)s.", name=username[:64]))
    return found


def _user_page(request: Request, session: Session, person: User, values: dict[str, str],
               errors: dict[str, str], status_code: int = 200):
    _ = translator(request)
    own = [c for c in channels.all_channels(session) if c.user_id == person.id]
    return _page(request, "admin/user.html", {
        "person": person, "values": values, "errors": errors, "flash": _flash(request),
        "parties": parties.all_parties(session), "roles": _choices(labels.ROLES, _), "channels": own,
        "languages": [("zh", "中文"), ("en", "English")],
    }, status_code=status_code)


def _user_values(person: User) -> dict[str, str]:
    return {"display_name": person.display_name, "role": person.role, "party": person.party_code or "",
            "language": person.language, "phone": person.phone}


@router.get("/admin/users/{username}")
def user_page(request: Request, username: str, user: User = Depends(ADMIN_ONLY),
              session: Session = Depends(get_session)):
    person = _user_or_404(request, session, username)
    return _user_page(request, session, person, _user_values(person), {})


@router.post("/admin/users/{username}", dependencies=CSRF)
async def change_user(request: Request, username: str, user: User = Depends(ADMIN_ONLY),
                      session: Session = Depends(get_session)):
    person = _user_or_404(request, session, username)
    values = _form(await request.form(), USER_FIELDS)
    try:
        users.update_user(session, person, role=values["role"], party_code=values["party"] or None,
                          display_name=values["display_name"], language=values["language"], phone=values["phone"],
                          actor=user.username)
    except DeskError as exc:
        session.rollback()
        return _user_page(request, session, person, values, _errors(request, exc), status_code=422)
    return _done(f"/admin/users/{person.username}", "user_saved")


@router.post("/admin/users/{username}/password", dependencies=CSRF)
async def reset_password(request: Request, username: str, user: User = Depends(ADMIN_ONLY),
                         session: Session = Depends(get_session)):
    person = _user_or_404(request, session, username)
    form = await request.form()
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    _ = translator(request)
    errors: dict[str, str] = {}
    if password != again:
        errors["password_again"] = _("Repeat the password: the two entries differ.")
    else:
        try:
            users.set_password(session, person, password, actor=user.username)
        except DeskError as exc:
            session.rollback()
            errors = _errors(request, exc)
    if errors:
        return _user_page(request, session, person, _user_values(person), errors, status_code=422)
    return _done(f"/admin/users/{person.username}", "password")


@router.post("/admin/users/{username}/active", dependencies=CSRF)
async def user_active(request: Request, username: str, user: User = Depends(ADMIN_ONLY),
                      session: Session = Depends(get_session)):
    person = _user_or_404(request, session, username)
    active = str((await request.form()).get("active")) == "1"
    if not active and person.id == user.id:
        _ = translator(request)
        return _user_page(request, session, person, _user_values(person),
                          {"form": _("You cannot disable yourself; ask another administrator.")}, status_code=409)
    if active:
        users.enable_user(session, person, actor=user.username)
    else:
        users.disable_user(session, person, actor=user.username)
    return _done(f"/admin/users/{person.username}", "enabled" if active else "disabled")


# --- parties --------------------------------------------------------------------------------------------


def _parties_page(request: Request, session: Session, values: dict[str, str], errors: dict[str, str],
                  status_code: int = 200):
    _ = translator(request)
    return _page(request, "admin/parties.html", {
        "parties": parties.all_parties(session), "kinds": _choices(labels.PARTY_KINDS, _),
        "kind_names": {c: _(v) for c, v in labels.PARTY_KINDS.items()},
        "values": values, "errors": errors, "flash": _flash(request),
    }, status_code=status_code)


@router.get("/admin/parties")
def parties_page(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    return _parties_page(request, session, {"kind": "department"}, {})


@router.post("/admin/parties", dependencies=CSRF)
async def add_party(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    values = _form(await request.form(), ("code", "name", "kind"))
    try:
        parties.add_party(session, code=values["code"], name=values["name"], kind=values["kind"], actor=user.username)
    except DeskError as exc:
        session.rollback()
        return _parties_page(request, session, values, _errors(request, exc), status_code=422)
    _changed(request)
    return _done("/admin/parties", "party_added")


def _party_or_404(request: Request, session: Session, code: str) -> Party:
    party = session.get(Party, code)
    if party is None:
        raise PageError(404, translator(request)("There is no party with the code %(code)s.", code=code[:64]))
    return party


def _party_page(request: Request, session: Session, party: Party, values: dict[str, str], errors: dict[str, str],
                status_code: int = 200):
    _ = translator(request)
    return _page(request, "admin/party.html", {
        "party": party, "values": values, "errors": errors, "flash": _flash(request),
        "kinds": _choices(labels.PARTY_KINDS, _),
    }, status_code=status_code)


@router.get("/admin/parties/{code}")
def party_page(request: Request, code: str, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    party = _party_or_404(request, session, code)
    return _party_page(request, session, party, {"name": party.name, "kind": party.kind}, {})


@router.post("/admin/parties/{code}", dependencies=CSRF)
async def change_party(request: Request, code: str, user: User = Depends(ADMIN_ONLY),
                       session: Session = Depends(get_session)):
    party = _party_or_404(request, session, code)
    values = _form(await request.form(), ("name", "kind"))
    try:
        parties.update_party(session, party, name=values["name"], kind=values["kind"], actor=user.username)
    except DeskError as exc:
        session.rollback()
        session.refresh(party)
        return _party_page(request, session, party, values, _errors(request, exc), status_code=422)
    _changed(request)
    return _done(f"/admin/parties/{party.code}", "party_saved")


@router.post("/admin/parties/{code}/active", dependencies=CSRF)
async def party_active(request: Request, code: str, user: User = Depends(ADMIN_ONLY),
                       session: Session = Depends(get_session)):
    party = _party_or_404(request, session, code)
    active = str((await request.form()).get("active")) == "1"
    parties.set_party_active(session, party, active, actor=user.username)
    _changed(request)
    return _done(f"/admin/parties/{party.code}", "activated" if active else "deactivated")


@router.post("/admin/parties/{code}/delete", dependencies=CSRF)
async def delete_party(request: Request, code: str, user: User = Depends(ADMIN_ONLY),
                       session: Session = Depends(get_session)):
    party = _party_or_404(request, session, code)
    try:
        parties.delete_party(session, party, actor=user.username)
    except DeskError as exc:
        session.rollback()
        session.refresh(party)
        return _party_page(request, session, party, {"name": party.name, "kind": party.kind},
                           _errors(request, exc), status_code=409)
    _changed(request)
    return _done("/admin/parties", "deleted")


# --- notification channels ------------------------------------------------------------------------------


def _file_channels(path) -> list[dict[str, str]]:  # noqa: ANN001 (a Path or None)
    """The DESK_NOTIFY_CONFIG channels, masked, for reading only (they are edited in the file)."""
    if path is None or not configured_tags(path):
        return []
    import apprise

    config = apprise.AppriseConfig()
    config.add(str(path))
    return [{"masked": redact(s.url(privacy=True))[:200], "tags": ", ".join(sorted(str(t) for t in s.tags))}
            for s in apprise.Apprise(config)]


def _channels_page(request: Request, session: Session, values: dict[str, str], errors: dict[str, str],
                   status_code: int = 200, tested: tuple[NotificationChannel, channels.TestOutcome] | None = None):
    _ = translator(request)
    names = _party_names(session)
    return _page(request, "admin/channels.html", {
        "channels": [(c, views.tag_names(c.tag, names, _)) for c in channels.all_channels(session)],
        "people": channels.people_with_channels(session), "file": _file_channels(request.app.state.settings.notify_config),
        "file_name": str(request.app.state.settings.notify_config or ""),
        "parties": parties.all_parties(session), "audiences": _choices(labels.AUDIENCES, _),
        "persons": list(session.exec(select(User).where(User.active == True).order_by(User.username)).all()),  # noqa: E712
        "values": values, "errors": errors, "flash": _flash(request), "tested": tested,
        "delivery": {c: _(v) for c, v in labels.DELIVERY.items()},
        "unreached_tags": views.tag_names(_uncovered(request, session), names, _),
    }, status_code=status_code)


def _uncovered(request: Request, session: Session) -> list[str]:
    from desk.coverage import uncovered_tags

    codes = [p.code for p in session.exec(select(Party).where(Party.active == True)).all()]  # noqa: E712
    return uncovered_tags([request.app.state.desk.policy], codes, request.app.state.settings.notify_config,
                          channels.stored_tags(session))


CHANNEL_FIELDS = ("audience", "party", "user", "label")


@router.get("/admin/channels")
def channels_page(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    return _channels_page(request, session, {"audience": Audience.party}, {})


@router.post("/admin/channels", dependencies=CSRF)
async def add_channel(request: Request, user: User = Depends(ADMIN_ONLY), session: Session = Depends(get_session)):
    form = await request.form()
    values = _form(form, CHANNEL_FIELDS)
    person = int(values["user"]) if values["user"].isdigit() else None
    try:
        channels.add_channel(session, audience=values["audience"], url=str(form.get("url") or ""),
                             party_code=values["party"] or None, user_id=person, label=values["label"],
                             actor=user.username)
    except DeskError as exc:
        session.rollback()
        return _channels_page(request, session, values, _errors(request, exc), status_code=422)
    _changed(request)
    return _done("/admin/channels", "channel_added")


def _channel_or_404(request: Request, session: Session, channel_id: int) -> NotificationChannel:
    channel = session.get(NotificationChannel, channel_id)
    if channel is None:
        raise PageError(404, translator(request)("There is no such notification channel (removed already?)."))
    return channel


@router.post("/admin/channels/{channel_id}/test", dependencies=CSRF)
def test_channel(request: Request, channel_id: int, user: User = Depends(ADMIN_ONLY),
                 session: Session = Depends(get_session)):
    channel = _channel_or_404(request, session, channel_id)
    outcome = channels.send_test(session, channel, actor=user.username)
    return _channels_page(request, session, {"audience": Audience.party}, {}, tested=(channel, outcome))


@router.post("/admin/channels/{channel_id}/delete", dependencies=CSRF)
def remove_channel(request: Request, channel_id: int, user: User = Depends(ADMIN_ONLY),
                   session: Session = Depends(get_session)):
    channels.remove_channel(session, _channel_or_404(request, session, channel_id), actor=user.username)
    _changed(request)
    return _done("/admin/channels", "channel_removed")


# --- the policy in force ----------------------------------------------------------------------------------


def policy_table(policy: Policy, _, lang: str) -> dict[str, Any]:  # noqa: ANN001 (a gettext)
    """Rows: the milestones; columns: the levels; each cell the deadline after detection (or none)."""
    rows = []
    for rule in policy.milestones:
        cells = []
        for level in LEVELS:
            if level not in rule.levels:
                cells.append("—")
            elif level in rule.due_working_days:
                cells.append(_("%(n)s working days", n=rule.due_working_days[level]))
            else:
                cells.append(views.span(rule.due_seconds[level], _, lang))
        rows.append({"label": _(labels.MILESTONES[rule.key]) if rule.key in labels.MILESTONES else rule.label,
                     "cells": cells})
    esc = policy.escalation
    reminders = [r.spec if r.fraction is not None else
                 _("%(span)s before the deadline", span=views.span(r.before_due_seconds or 0, _, lang))
                 for r in esc.reminders]

    def tags(templates: list[str]) -> str:
        names = {"party": _("the responsible party"), "party-leaders": _("its leadership"),
                 "supervisor": _("City supervisor")}
        return _(", ").join(names.get(t, t) for t in templates)

    return {
        "name": policy.name, "levels": [(lv, _(labels.LEVELS[lv])) for lv in LEVELS], "rows": rows,
        "follow_up": views.span(policy.follow_up_every_seconds, _, lang) if policy.follow_up_every_seconds else "",
        "reminders": _(", ").join(reminders), "remind_to": tags(esc.remind), "on_breach": tags(esc.on_breach),
        "repeat": views.span(esc.repeat_every_seconds, _, lang), "on_assign": tags(esc.on_assign),
        "retry": _("first after %(first)s, then at most %(max)s apart; the supervisor is told after %(alert)s",
                   first=views.span(policy.delivery.retry_first_seconds, _, lang),
                   max=views.span(policy.delivery.retry_max_seconds, _, lang),
                   alert=views.span(policy.delivery.alert_after_seconds, _, lang)),
        "reopen": views.span(policy.reopen_within_seconds, _, lang),
    }


@router.get("/admin/policy")
def policy_page(request: Request, user: User = Depends(ADMIN_ONLY), desk: Desk = Depends(get_desk)):
    _, lang = translator(request), language(request)
    settings = request.app.state.settings
    return _page(request, "admin/policy.html", {
        "tables": [(_("Incidents"), settings.policy, policy_table(desk.policy, _, lang)),
                   (_("Drills"), settings.drill_policy, policy_table(desk.drill_policy, _, lang))],
    })


# --- the audit log ------------------------------------------------------------------------------------------


def _audit_filters(request: Request) -> tuple[audit.AuditFilters, dict[str, str], dict[str, str]]:
    _ = translator(request)
    q = request.query_params
    values = {k: str(q.get(k) or "").strip()[:64] for k in ("action", "actor", "since", "until")}
    errors: dict[str, str] = {}
    days: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            day = datetime.strptime(values[name], "%Y-%m-%d").replace(tzinfo=SHANGHAI) if values[name] else None
        except ValueError:
            errors[name] = _("Enter a date, for example 2026-11-27.")
            day = None
        days[name] = day
    action = values["action"] if values["action"] in labels.AUDIT_FAMILIES or values["action"] in labels.AUDIT_ACTIONS \
        else None
    until = days["until"] + timedelta(days=1) if days["until"] else None
    return audit.AuditFilters(action=action, actor=values["actor"] or None, since=days["since"], until=until), \
        values, errors


@router.get("/admin/audit")
def audit_page(request: Request, page: int = 1, user: User = Depends(page_role(*AUDIT_READERS)),
               session: Session = Depends(get_session)):
    _ = translator(request)
    filters, values, errors = _audit_filters(request)
    page = max(1, min(page, 10_000))
    rows = [] if errors else audit.entries(session, filters, limit=audit.PAGE_SIZE + 1,
                                           offset=(page - 1) * audit.PAGE_SIZE)
    kept = {k: v for k, v in values.items() if v}
    return _page(request, "admin/audit.html", {
        "entries": rows[:audit.PAGE_SIZE], "values": values, "errors": errors,
        "families": _choices(labels.AUDIT_FAMILIES, _), "action_names": {c: _(v) for c, v in labels.AUDIT_ACTIONS.items()},
        "page": page, "newer": urlencode({**kept, "page": page - 1}) if page > 1 else "",
        "older": urlencode({**kept, "page": page + 1}) if len(rows) > audit.PAGE_SIZE else "",
        "csv": "/admin/audit.csv" + (f"?{urlencode(kept)}" if kept else ""),
    }, status_code=422 if errors else 200)


@router.get("/admin/audit.csv")
def audit_csv(request: Request, user: User = Depends(page_role(*AUDIT_READERS))):
    filters, _values, errors = _audit_filters(request)
    if errors:
        raise PageError(422, next(iter(errors.values())))
    zh = translator(request)
    body = _audit_csv(request.app.state.database_url, filters, {c: zh(v) for c, v in labels.AUDIT_ACTIONS.items()})
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M")
    return StreamingResponse(body, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                                      "Cache-Control": "no-store"})


def _audit_csv(database_url: str, filters: audit.AuditFilters, names: dict[str, str]) -> Iterator[str]:
    # Its own session: the rows stream after the request's dependencies have finished.
    with session_scope(database_url) as session:
        yield from audit.csv_lines(session, filters, names)
