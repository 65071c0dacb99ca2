"""Rendering a page: the Jinja2 environment with the gettext catalog, the viewer, the CSRF token.

Every page template extends ``base.html`` and is rendered through :func:`render`, which puts into the
context what ``base.html`` needs: ``user`` (or None), ``lang``, ``csrf_token``, ``_``/``gettext``/
``ngettext`` in the viewer's language, and the time filters ``local`` and ``iso``.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from jinja2.ext import _make_new_gettext, _make_new_ngettext  # the wrappers install_gettext_callables uses
from starlette.responses import HTMLResponse

from api.web import csrf, i18n
from desk.timefmt import SHANGHAI
from desk.vocab import BOARD_VIEWERS, EVERYONE, ON_CITY_DUTY, OPENERS, ROSTER_VIEWERS, SUPERVISORS, Role

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
LANG_COOKIE = "desk_lang"

templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                                           extensions=["jinja2.ext.i18n"]))
templates.env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the jinja2.ext.i18n extension
    gettext=lambda s: s, ngettext=lambda s, p, n: s if n == 1 else p, newstyle=True)


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as a duty officer reads it: Beijing time."""
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


templates.env.filters["local"] = local
templates.env.filters["iso"] = iso


def language(request: Request) -> str:
    """The viewer's language: the user's choice, else this browser's choice, else Chinese."""
    user = getattr(request.state, "user", None)
    if user is not None:
        return i18n.normalize(user.language)
    return i18n.normalize(request.cookies.get(LANG_COOKIE))


def translator(request: Request):
    """A plain ``_(message, **values)`` for Python code that builds page text."""
    lang = language(request)
    return lambda message, **values: i18n.gettext(lang, message, **values)


# The top navigation: (path, label, roles). Entries whose page is not mounted are left out.
NAV = (
    ("/my", i18n.N_("My incidents"), (Role.responder,)),
    ("/incidents", i18n.N_("Incidents"), EVERYONE),
    ("/incidents/new", i18n.N_("New incident"), OPENERS),
    ("/board", i18n.N_("Board"), BOARD_VIEWERS),
    ("/assessment", i18n.N_("Assessment"), SUPERVISORS),
    ("/roster", i18n.N_("Duty roster"), ROSTER_VIEWERS),
    ("/handover", i18n.N_("Shift handover"), ON_CITY_DUTY),
    ("/admin/users", i18n.N_("Admin"), (Role.admin,)),
    ("/admin/audit", i18n.N_("Audit log"), (Role.supervisor,)),
    ("/admin/release-templates", i18n.N_("Release templates"), (Role.admin,)),
)


def _paths(routes: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for route in routes:
        if getattr(route, "path", None):
            found.add(prefix + route.path)
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers as a unit
        if included is not None:
            context = getattr(route, "include_context", None)
            found |= _paths(included.routes, prefix + (getattr(context, "prefix", "") or ""))
    return found


def _nav(request: Request, user: Any, gettext) -> list[dict[str, Any]]:
    if user is None:
        return []
    mounted = getattr(request.app.state, "page_paths", None)
    if mounted is None:
        mounted = request.app.state.page_paths = _paths(request.app.routes)
    return [{"href": path, "label": gettext(label),
             "current": request.url.path == path or (path.startswith("/admin") and request.url.path.startswith("/admin"))}
            for path, label, roles in NAV if user.role in roles and path in mounted]


COVERAGE_TTL = 60.0  # seconds a reading of which tags have no channel is reused (the admin pages clear it)


def unreached(request: Request) -> dict[str, Any] | None:
    """For supervisors and admins: the tags the policy sends to that no channel answers to, by name
    (a party, its leadership, the city supervisor), or None when every one has a channel."""
    from sqlmodel import col

    from api.web.views import tag_names
    from desk.channels import stored_tags
    from desk.coverage import configured_tags, uncovered_tags
    from desk.db import session_scope
    from desk.models import Party

    state = request.app.state
    cached = getattr(state, "coverage", None)
    if cached is None or time.monotonic() - cached[0] > COVERAGE_TTL:
        with session_scope(state.database_url) as session:
            names = {p.code: p.name for p in session.query(Party).filter(col(Party.active) == True)}  # noqa: E712
            stored = stored_tags(session)
        path = state.settings.notify_config
        tags = uncovered_tags([state.desk.policy], names, path, stored)
        cached = state.coverage = (time.monotonic(), tags, names, bool(stored or (path and configured_tags(path))))
    _at, tags, names, configured = cached
    if not tags:
        return None
    shown = tags[:6]
    return {"configured": configured, "names": tag_names(shown, names, translator(request)),
            "more": max(0, len(tags) - len(shown))}


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    from api.web.labels import ROLES
    from api.web.views import clock_words

    lang = language(request)
    catalog = i18n.translations(lang)
    user = getattr(request.state, "user", None)
    values: dict[str, Any] = {
        "user": user,
        "nav": _nav(request, user, catalog.gettext),
        "role_label": catalog.gettext(ROLES.get(user.role, user.role)) if user else "",
        "clock_words": clock_words(lambda m, **v: catalog.gettext(m) % v if v else catalog.gettext(m), lang),
        "lang": lang,
        "html_lang": i18n.LANGUAGES[lang][1],
        "languages": {code: label for code, (_l, _h, label) in i18n.LANGUAGES.items()},
        "csrf_token": csrf.token(request),
        "csrf_field": csrf.FIELD,
        "gettext": _make_new_gettext(catalog.gettext),
        "_": _make_new_gettext(catalog.gettext),
        "ngettext": _make_new_ngettext(catalog.ngettext),
        # The server's clock when the page was made: countdowns count from it, not from the PC's own clock
        # (an intranet PC two hours fast would otherwise show every incident as overdue).
        "server_now_ms": int(time.time() * 1000),
        "server_now_local": datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
    }
    if user is not None and user.role in ("supervisor", "admin"):
        values["unreached"] = unreached(request)
    values.update(context or {})
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.setdefault("Cache-Control", "no-store")
    csrf.remember(request, response)
    return response
