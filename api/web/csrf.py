"""CSRF protection for every page form: a signed double-submit token.

The browser holds a random nonce in the ``desk_csrf`` cookie (HttpOnly, SameSite=Lax); every form
carries the nonce signed with the app's secret. A POST passes only when the signed field unsigns to
the cookie's nonce, which a page on another origin can neither read nor forge.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

COOKIE = "desk_csrf"
FIELD = "csrf_token"


class CsrfRefused(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "csrf")


def cookie_secure(request: Request) -> bool:
    """Secure (HTTPS only) when DESK_COOKIE_SECURE says so (by default: DESK_PUBLIC_URL is https), and on any
    HTTPS request. Behind a TLS proxy the app itself is reached over plain HTTP, so the scheme alone is not enough."""
    return request.app.state.settings.resolved_cookie_secure or request.url.scheme == "https"


def _signer(request: Request) -> URLSafeSerializer:
    return request.app.state.csrf_signer


def nonce(request: Request) -> str:
    """This browser's nonce; a fresh one (set on the response by :func:`remember`) when it has none."""
    existing = getattr(request.state, "csrf_nonce", None)
    if existing:
        return existing
    value = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
    request.state.csrf_nonce = value
    return value


def token(request: Request) -> str:
    return _signer(request).dumps(nonce(request))


def remember(request: Request, response: Response) -> None:
    value = getattr(request.state, "csrf_nonce", None)
    if value and value != request.cookies.get(COOKIE):
        response.set_cookie(COOKIE, value, httponly=True, samesite="lax", path="/", secure=cookie_secure(request))


async def verify(request: Request) -> None:
    """Route dependency for every page POST: refuse (403) a form without a valid token."""
    form = await request.form()
    sent = form.get(FIELD)
    cookie = request.cookies.get(COOKIE)
    if not isinstance(sent, str) or not cookie:
        raise CsrfRefused()
    try:
        value = _signer(request).loads(sent)
    except BadSignature:
        raise CsrfRefused() from None
    if not isinstance(value, str) or not hmac.compare_digest(value, cookie):
        raise CsrfRefused()
