"""Users, roles, password hashing (argon2) and signed bearer tokens."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, select

from desk.models import Party, User

DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN = "duty_officer", "responder", "supervisor", "admin"
ROLES = (DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    return user if verify_password(user, password) else None


def create_user(session: Session, *, username: str, password: str, role: str, party_code: str | None = None,
                display_name: str = "", language: str = "zh") -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == RESPONDER and not party_code:
        raise ValueError("a responder belongs to one party: give --party CODE")
    if party_code and session.get(Party, party_code) is None:
        raise ValueError(f"unknown party '{party_code}'")
    if len(password) < 8:
        raise ValueError("the password must be at least 8 characters")
    if session.exec(select(User).where(User.username == username)).first():
        raise ValueError(f"user '{username}' already exists")
    user = User(username=username, password_hash=hash_password(password), role=role,
                party_code=party_code if role == RESPONDER else party_code, display_name=display_name or username,
                language=language)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


class Tokens:
    """Signed, expiring tokens: bearer tokens for the API and the session cookie for pages."""

    def __init__(self, secret: str, ttl_minutes: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="opinion-desk")
        self.ttl_seconds = ttl_minutes * 60

    def issue(self, user: User, purpose: str = "api") -> str:
        return self._serializer.dumps({"uid": user.id, "p": purpose})

    def read(self, token: str, purpose: str = "api") -> int | None:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or data.get("p") != purpose:
            return None
        return data.get("uid")
