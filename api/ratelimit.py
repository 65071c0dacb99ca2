"""Logging in, for both doors (POST /api/auth/token and the page's POST /login): one limiter, one way to
check a password.

Rate limit: too many wrong passwords for one username from one address → 429 for a while. Counted per
(username, client address), so a guesser cannot lock a real user out from elsewhere, plus a wider limit
per address alone against trying many usernames. A correct login clears its counter. An attempt counts
as a failure from the moment it starts (cleared again if it succeeds), so forty guesses sent at once are
cut off after the fifth, not after all forty were checked. The client address is the real client's only
when uvicorn trusts the proxy that forwarded it (DESK_TRUSTED_PROXIES); otherwise the peer's.
Kept in the process's memory: each API replica counts on its own, which still bounds guessing to a few
tries per replica per window.

Every attempt is written to the audit log (desk.audit): success or wrong name or password with the password
check, in its thread and session; refused while locked out, on its own.

Checking a password costs argon2id 64 MiB and tens of milliseconds of CPU. It runs in a worker thread,
never on the event loop (which would freeze every other request of the process), and at most
``HASHES_AT_ONCE`` at a time per process: further attempts wait their turn without holding a thread.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque

from fastapi import HTTPException, Request

from api.auth import authenticate
from desk import audit
from desk.db import session_scope
from desk.models import User
from desk.vocab import AuditAction

MAX_FAILURES = 5  # per username and address
MAX_FAILURES_PER_ADDRESS = 50  # any usernames, one address
WINDOW_SECONDS = 300
HASHES_AT_ONCE = 2  # argon2id at 64 MiB each: memory and CPU stay bounded whatever arrives


class LoginLimiter:
    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS,
                 max_per_address: int = MAX_FAILURES_PER_ADDRESS, clock=time.monotonic) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _wait(self, username: str, address: str, now: float) -> int:
        waits = []
        for key, limit in (((username.lower(), address), self.max_failures), (("", address), self.max_per_address)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else 0

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this username may try again from this address; 0 if it may try now."""
        with self._lock:
            return self._wait(username, address, self._clock())

    def failed(self, username: str, address: str) -> float:
        now = self._clock()
        with self._lock:
            self._add(username, address, now)
        return now

    def _add(self, username: str, address: str, now: float) -> None:
        for key in ((username.lower(), address), ("", address)):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def begin(self, username: str, address: str) -> tuple[int, float]:
        """Start an attempt: (seconds to wait, 0) if refused, else (0, its mark), counted as failed until
        :meth:`succeeded` says otherwise. Check and count happen under one lock: parallel attempts queue."""
        now = self._clock()
        with self._lock:
            wait = self._wait(username, address, now)
            if wait:
                return wait, 0.0
            self._add(username, address, now)
        return 0, now

    def succeeded(self, username: str, address: str, mark: float | None = None) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)
            times = self._failures.get(("", address))
            if mark is not None and times is not None:
                try:
                    times.remove(mark)  # a success does not count against the address either
                except ValueError:
                    pass


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter(request: Request) -> LoginLimiter:
    state = request.app.state
    if getattr(state, "login_limiter", None) is None:
        state.login_limiter = LoginLimiter()
    return state.login_limiter


def _hash_slots(request: Request) -> asyncio.Semaphore:
    state = request.app.state
    if getattr(state, "hash_slots", None) is None:
        state.hash_slots = asyncio.Semaphore(HASHES_AT_ONCE)
    return state.hash_slots


def too_many_attempts(seconds: int) -> HTTPException:
    minutes = max(1, math.ceil(seconds / 60))
    return HTTPException(429, f"登录失败次数过多，请 {minutes} 分钟后再试。", headers={"Retry-After": str(seconds)})


WRONG_PASSWORD = "用户名或密码错误。"


def _check_password(database_url: str, username: str, password: str, address: str) -> User | None:
    """The user if the password is right; the attempt goes into the audit log in the same thread and session."""
    with session_scope(database_url) as session:
        user = authenticate(session, username, password)
        audit.record(session, actor=username, action=AuditAction.login_success if user else AuditAction.login_failure,
                     address=address)
        session.commit()
        return user


async def log_in(request: Request, username: str, password: str) -> User:
    """The user, if the password is right. Raises 429 (with Retry-After) while this username or address is
    locked out, 401 for a wrong name or password. The one login path of the JSON API and the pages."""
    address = client_address(request)
    limits = limiter(request)
    wait, mark = limits.begin(username, address)
    if wait:
        await asyncio.to_thread(audit.record_login, request.app.state.database_url, username=username,
                                action=AuditAction.login_lockout, address=address)
        raise too_many_attempts(wait)
    async with _hash_slots(request):
        user = await asyncio.to_thread(_check_password, request.app.state.database_url, username, password, address)
    if user is None:
        raise HTTPException(401, WRONG_PASSWORD, headers={"WWW-Authenticate": "Bearer"})
    limits.succeeded(username, address, mark)
    return user
