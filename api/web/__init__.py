"""Server-rendered pages for duty officers, responders and supervisors (Jinja2, gettext, no CDN).

``install(app)`` mounts the pages, the static files and the page error handlers on the FastAPI app.
Other page modules render through :func:`api.web.templating.render` and guard with
:func:`api.web.security.page_user` / :func:`api.web.security.page_role`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeSerializer

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    from api.web import admin, csrf, duty, pages, release_templates, reports, supervisor
    from api.web.security import LoginRequired, PageError, login_url
    from api.web.templating import render, translator

    app.state.csrf_signer = URLSafeSerializer(app.state.settings.resolved_secret_key(), salt="desk-csrf")

    # The decorator, not add_exception_handler: Starlette types a handler as taking any Exception, the decorator
    # keeps each handler's own exception class (the same registration).
    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired):
        return RedirectResponse(login_url(exc.next_url), 303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        return render(request, "error.html", {"status": exc.status_code, "message": exc.message},
                      status_code=exc.status_code)

    @app.exception_handler(csrf.CsrfRefused)
    async def csrf_refused(request: Request, _exc: csrf.CsrfRefused):
        _ = translator(request)
        message = _("The form has expired or did not come from this site. Go back, reload the page and try again.")
        return render(request, "error.html", {"status": 403, "message": message}, status_code=403)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.include_router(supervisor.router)
    app.include_router(release_templates.router)
    app.include_router(reports.router)
    app.include_router(admin.router)
    app.include_router(duty.router)
