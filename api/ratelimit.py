"""Login rate limiting: too many wrong passwords for one username from one address → 429 for a while.

Counted per (username, client address), so a guesser cannot lock a real user out from elsewhere, plus a
wider limit per address alone against trying many usernames. A correct login clears its counter.
Kept in the process's memory: each API replica counts on its own, which still bounds guessing to a few
tries per replica per window. Used by POST /api/auth/token and the web login form.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from fastapi import HTTPException, Request

MAX_FAILURES = 5  # per username and address
MAX_FAILURES_PER_ADDRESS = 50  # any usernames, one address
WINDOW_SECONDS = 300


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

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this username may try again from this address; 0 if it may try now."""
        now = self._clock()
        with self._lock:
            waits = []
            for key, limit in (((username.lower(), address), self.max_failures), (("", address), self.max_per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in ((username.lower(), address), ("", address)):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter(request: Request) -> LoginLimiter:
    state = request.app.state
    if getattr(state, "login_limiter", None) is None:
        state.login_limiter = LoginLimiter()
    return state.login_limiter


def too_many_attempts(seconds: int) -> HTTPException:
    minutes = max(1, math.ceil(seconds / 60))
    return HTTPException(429, f"登录失败次数过多，请 {minutes} 分钟后再试。", headers={"Retry-After": str(seconds)})


def check_login_allowed(request: Request, username: str) -> None:
    """Raise 429 (with Retry-After) if this username has failed too often from this address."""
    wait = limiter(request).retry_after(username, client_address(request))
    if wait:
        raise too_many_attempts(wait)


def record_login(request: Request, username: str, ok: bool) -> None:
    if ok:
        limiter(request).succeeded(username, client_address(request))
    else:
        limiter(request).failed(username, client_address(request))
