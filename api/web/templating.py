"""Rendering a page: the Jinja2 environment with the gettext catalog, the viewer, the CSRF token.

Every page template extends ``base.html`` and is rendered through :func:`render`, which puts into the
context what ``base.html`` needs: ``user`` (or None), ``lang``, ``csrf_token``, ``_``/``gettext``/
``ngettext`` in the viewer's language, and the time filters ``local`` and ``iso``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2.ext import _make_new_gettext, _make_new_ngettext  # the wrappers install_gettext_callables uses
from starlette.responses import HTMLResponse

from api.web import csrf, i18n
from desk.notify_text import SHANGHAI

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
LANG_COOKIE = "desk_lang"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR), extensions=["jinja2.ext.i18n"])
templates.env.install_gettext_callables(gettext=lambda s: s, ngettext=lambda s, p, n: s if n == 1 else p,
                                        newstyle=True)


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


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    lang = language(request)
    catalog = i18n.translations(lang)
    values: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "lang": lang,
        "html_lang": i18n.LANGUAGES[lang][1],
        "languages": {code: label for code, (_l, _h, label) in i18n.LANGUAGES.items()},
        "csrf_token": csrf.token(request),
        "csrf_field": csrf.FIELD,
        "gettext": _make_new_gettext(catalog.gettext),
        "_": _make_new_gettext(catalog.gettext),
        "ngettext": _make_new_ngettext(catalog.ngettext),
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.setdefault("Cache-Control", "no-store")
    csrf.remember(request, response)
    return response
