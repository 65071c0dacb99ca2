"""Users and roles: password hashing (argon2), creating, re-keying and disabling accounts.

Domain code used by the API's login and by `opinion-desk` commands; tokens (an HTTP matter) stay in api.auth.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from desk.models import Party, User
from desk.vocab import Role

DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN = Role.duty_officer, Role.responder, Role.supervisor, Role.admin
ROLES = tuple(Role)

_hasher = PasswordHasher()

# The password hash of a user the directory vouches for (desk.directory): not an argon2 hash, so no password
# opens the row locally, and a local account (any real hash) is never mistaken for one.
DIRECTORY_PASSWORD = "!directory"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def from_directory(user: User) -> bool:
    return user.password_hash == DIRECTORY_PASSWORD


def has_local_password(session: Session, username: str) -> bool:
    """Whether this name is a local account (checked here, never by the directory), enabled or not."""
    user = session.exec(select(User).where(User.username == username)).first()
    return user is not None and not from_directory(user)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    return user if verify_password(user, password) else None


def create_user(session: Session, *, username: str, password: str, role: str, party_code: str | None = None,
                display_name: str = "", language: str = "zh", phone: str = "") -> User:
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
                language=language, phone=phone.strip()[:32])
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def revoke_tokens(session: Session, user: User) -> None:
    """End every token and session of this user (the caller commits)."""
    user.token_version += 1
    session.add(user)


def set_password(session: Session, user: User, password: str) -> None:
    """A new password; every token and session issued with the old one stops working."""
    if len(password) < 8:
        raise ValueError("the password must be at least 8 characters")
    user.password_hash = hash_password(password)
    revoke_tokens(session, user)
    session.commit()


def disable_user(session: Session, user: User) -> None:
    """No more logins, and every token and session ends now."""
    user.active = False
    revoke_tokens(session, user)
    session.commit()
