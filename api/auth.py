"""Signed bearer tokens and session cookies; users, roles and passwords live in desk.users."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam
from sqlmodel import Session, select

from desk.models import User
from desk.users import (
    ADMIN,
    DUTY_OFFICER,
    RESPONDER,
    ROLES,
    SUPERVISOR,
    authenticate,
    create_user,
    disable_user,
    hash_password,
    revoke_tokens,
    set_password,
    verify_password,
)

# Users and roles are re-exported: the API's modules name them from here.
# Every request reads its user: a statement built once (session.get builds its query each time; issue 17, eleventh round).
_USER_BY_ID = select(User).where(User.id == bindparam("uid"))

__all__ = ["ADMIN", "DUTY_OFFICER", "RESPONDER", "ROLES", "SUPERVISOR", "Tokens", "authenticate", "create_user",
           "disable_user", "hash_password", "revoke_tokens", "set_password", "verify_password"]


class Tokens:
    """Signed, expiring tokens: bearer tokens for the API and the session cookie for pages.

    Each carries the user's ``token_version``: bumping it (logout, new password, disabled) revokes every
    token and session of that user at once, on every device, however long they had left to live."""

    def __init__(self, secret: str, ttl_minutes: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="opinion-desk")
        self.ttl_seconds = ttl_minutes * 60

    def issue(self, user: User, purpose: str = "api") -> str:
        return self._serializer.dumps({"uid": user.id, "p": purpose, "v": user.token_version})

    def read(self, token: str, purpose: str = "api") -> tuple[int, int] | None:
        """(user id, token version) of a valid, unexpired token for this purpose; else None."""
        try:
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or data.get("p") != purpose:
            return None
        uid, version = data.get("uid"), data.get("v")
        if not isinstance(uid, int) or not isinstance(version, int):
            return None  # made before token versions existed: log in again
        return uid, version

    def user(self, session: Session, token: str | None, purpose: str) -> User | None:
        """The active user a token names, if it has not been revoked since it was issued."""
        claims = self.read(token, purpose) if token else None
        if claims is None:
            return None
        user = session.exec(_USER_BY_ID, params={"uid": claims[0]}).first()
        if user is None or not user.active or user.token_version != claims[1]:
            return None
        return user
