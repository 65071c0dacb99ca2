"""CSRF protection for every page form, and for the JSON API when a browser's session cookie is the login.

The browser holds a random nonce in the ``desk_csrf`` cookie (HttpOnly, SameSite=Lax); every form
carries the nonce signed with the app's secret. A POST passes only when the signed field unsigns to
the cookie's nonce, which a page on another origin can neither read nor forge.

SameSite=Lax does not stop a page on a sibling subdomain (same site, another origin) from posting with
the cookie, and a ``text/plain`` POST needs no preflight: so a state change on /api that is logged in by
the session cookie must also carry the same signed token in the ``X-CSRF-Token`` header, or come with an
``Origin`` that is the desk's own. Bearer-token requests are not affected (a browser never adds that
header by itself).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

COOKIE = "desk_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_REFUSED = ("跨站请求被拒绝：使用登录会话调用接口修改数据时，须带上页面的防跨站令牌（X-CSRF-Token 请求头），"
               "或从本站页面发出；程序调用请使用 Bearer 令牌。")


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


def _signed_nonce_matches(request: Request, sent: object) -> bool:
    cookie = request.cookies.get(COOKIE)
    if not isinstance(sent, str) or not cookie:
        return False
    try:
        value = _signer(request).loads(sent)
    except BadSignature:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, cookie)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request) -> bool:
    """The browser says the request comes from a page of the desk: its public address, or the address the
    request itself was made to (behind a trusted proxy, the forwarded scheme)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    own = {_origin(request.app.state.settings.resolved_public_url), _origin(str(request.base_url))}
    return origin.lower().rstrip("/") in own


def check_api_request(request: Request) -> None:
    """For /api requests logged in by the session cookie: a state change needs the token or our Origin."""
    if request.method in SAFE_METHODS:
        return
    if _signed_nonce_matches(request, request.headers.get(HEADER)) or same_origin(request):
        return
    raise HTTPException(403, API_REFUSED)


async def verify(request: Request) -> None:
    """Route dependency for every page POST: refuse (403) a form without a valid token."""
    form = await request.form()
    if not _signed_nonce_matches(request, form.get(FIELD)):
        raise CsrfRefused()
