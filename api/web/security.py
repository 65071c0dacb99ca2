"""Who is looking at a page: the session cookie, the login redirect, role checks for pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, Request
from sqlmodel import Session

from api.auth import Tokens
from api.deps import get_session, get_tokens
from desk.models import User

SESSION_COOKIE = "desk_session"  # api.deps.current_user reads the same cookie (purpose "session")


class LoginRequired(Exception):
    """Raised by a page dependency: answered with a redirect to /login?next=<the page>."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageError(Exception):
    """A page that cannot be shown (403, 404, 409...): answered with the error page, in the user's language."""

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        self.message = message


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: never an absolute URL (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def viewer(request: Request, session: Session = Depends(get_session),
           tokens: Tokens = Depends(get_tokens)) -> User | None:
    """The logged-in user, or None. Remembered on request.state for the page's template."""
    user = tokens.user(session, request.cookies.get(SESSION_COOKIE), "session")
    request.state.user = user
    return user


def page_user(request: Request, user: User | None = Depends(viewer)) -> User:
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method == "GET" else "/")
    return user


def page_role(*roles: str):
    """Page dependency: the user must hold one of these roles (else the 403 page)."""

    def check(request: Request, user: User = Depends(page_user)) -> User:
        if user.role not in roles:
            from api.web.templating import translator

            _ = translator(request)
            raise PageError(403, _("Your role cannot open this page."))
        return user

    return check
