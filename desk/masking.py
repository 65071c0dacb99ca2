"""Keeping notification secrets out of sight: a channel URL as it may be shown or logged, and text about a
channel (apprise's own messages) with the URL's secret parts masked. Standard library only."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

MASK = "****"
_SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sign", re.IGNORECASE)


def redact(url: str) -> str:
    """apprise's privacy URL still shows custom headers (``+Authorization=Bearer …``) and some query
    tokens: mask those values too, so the notification log never holds a secret."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    params = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if value and (name.startswith("+") or _SECRET_PARAM.search(name)) and value != MASK:
            value = MASK
        params.append((name, value))
    return f"{base}?{urlencode(params, safe='*')}"


def secret_parts(url: str, shown: str) -> list[str]:
    """The pieces of ``url`` (user, password, path segments, query values) that its masked form ``shown``
    does not show: any of them may be a key."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [parts.username or "", parts.password or "", *parts.path.split("/"),
              *(v for _k, v in parse_qsl(parts.query, keep_blank_values=True))]
    if "@" not in parts.netloc:
        pieces.append(parts.netloc.split(":")[0])  # e.g. wecombot://KEY: the key sits where a host would be
    found = {unquote(p) for p in pieces if len(p) >= 6} | {p for p in pieces if len(p) >= 6}
    return sorted((p for p in found if p not in shown), key=len, reverse=True)


def scrub(text: str, url: str, shown: str) -> str:
    """``text`` with every secret part of ``url`` masked."""
    for part in [url, *secret_parts(url, shown)]:
        if part:
            text = text.replace(part, MASK)
    return text
