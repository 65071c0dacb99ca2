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

A name without a local password goes to the directory when one is configured (desk.directory), in its own
``DIRECTORY_AT_ONCE`` slots: a slow or hanging directory holds neither a hashing slot nor more threads than
that, so local accounts keep logging in. A directory that cannot be reached answers 503 and does not count
as a failed login; a right password in no mapped group answers 403.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque

from fastapi import HTTPException, Request

from api.auth import authenticate
from desk import audit, directory
from desk.db import session_scope
from desk.models import User
from desk.users import has_local_password
from desk.vocab import AuditAction

MAX_FAILURES = 5  # per username and address
MAX_FAILURES_PER_ADDRESS = 50  # any usernames, one address
WINDOW_SECONDS = 300
HASHES_AT_ONCE = 2  # argon2id at 64 MiB each: memory and CPU stay bounded whatever arrives
DIRECTORY_AT_ONCE = 2  # directory logins waiting on the network: with the hashing slots, within asyncio's threads


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

    def withdrawn(self, username: str, address: str, mark: float) -> None:
        """This attempt decided nothing about the password (the directory was down): it is not a failure."""
        with self._lock:
            for key in ((username.lower(), address), ("", address)):
                times = self._failures.get(key)
                if times is not None and mark in times:
                    times.remove(mark)

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


def _slots(request: Request, name: str, size: int) -> asyncio.Semaphore:
    state = request.app.state
    if getattr(state, name, None) is None:
        setattr(state, name, asyncio.Semaphore(size))
    return getattr(state, name)


def too_many_attempts(seconds: int) -> HTTPException:
    minutes = max(1, math.ceil(seconds / 60))
    return HTTPException(429, f"登录失败次数过多，请 {minutes} 分钟后再试。", headers={"Retry-After": str(seconds)})


WRONG_PASSWORD = "用户名或密码错误。"


class LoginRefused(HTTPException):
    """A directory login's refusal with its catalog ``code``: the page says it in the viewer's language."""

    def __init__(self, status_code: int, refusal: directory.LoginRefused, headers: dict[str, str] | None = None):
        super().__init__(status_code, refusal.message, headers=headers)
        self.code = refusal.code


def _check_password(database_url: str, username: str, password: str, address: str,
                    ask_directory: bool) -> User | None | bool:
    """The user if the local password is right, None if not; True: not a local account, ask the directory.
    A local attempt goes into the audit log in the same thread and session."""
    with session_scope(database_url) as session:
        if ask_directory and not has_local_password(session, username):
            return True
        user = authenticate(session, username, password)
        audit.record(session, actor=username, action=AuditAction.login_success if user else AuditAction.login_failure,
                     address=address)
        session.commit()
        return user


def _check_directory(database_url: str, where: directory.Directory, username: str, password: str) -> User:
    with session_scope(database_url) as session:
        return directory.log_in(session, where, username, password)


async def log_in(request: Request, username: str, password: str) -> User:
    """The user, if the password is right. Raises 429 (with Retry-After) while this username or address is
    locked out, 401 for a wrong name or password, 403 for a directory user in no mapped group, 503 while the
    directory cannot be reached. The one login path of the JSON API and the pages."""
    address = client_address(request)
    limits = limiter(request)
    wait, mark = limits.begin(username, address)
    if wait:
        await asyncio.to_thread(audit.record_login, request.app.state.database_url, username=username,
                                action=AuditAction.login_lockout, address=address)
        raise too_many_attempts(wait)
    database_url, where = request.app.state.database_url, getattr(request.app.state, "directory", None)
    async with _slots(request, "hash_slots", HASHES_AT_ONCE):
        user = await asyncio.to_thread(_check_password, database_url, username, password, address, where is not None)
    if user is True and where is not None:  # a directory account (True comes only with a directory): its outcome
        # goes into the audit log too
        outcome = AuditAction.login_failure
        try:
            async with _slots(request, "directory_slots", DIRECTORY_AT_ONCE):
                user = await asyncio.to_thread(_check_directory, database_url, where, username, password)
            outcome = AuditAction.login_success
        except directory.WrongCredentials:
            user = None
        except directory.NotAdmitted as exc:
            limits.withdrawn(username, address, mark)  # the password was right
            raise LoginRefused(403, exc) from None
        except directory.DirectoryUnavailable as exc:
            limits.withdrawn(username, address, mark)
            raise LoginRefused(503, exc, headers={"Retry-After": "30"}) from None
        finally:
            await asyncio.to_thread(audit.record_login, database_url, username=username, action=outcome,
                                    address=address)
    if not isinstance(user, User):
        raise HTTPException(401, WRONG_PASSWORD, headers={"WWW-Authenticate": "Bearer"})
    limits.succeeded(username, address, mark)
    return user
