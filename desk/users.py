"""Users and roles: password hashing (argon2), creating, changing, re-keying and disabling accounts.

Domain code used by the API's login, the admin pages and `opinion-desk user …`: each change is checked
here (a refusal is an ``InvalidInput`` naming the field), written with its audit entry in one commit, and
ends the user's tokens where it should. Tokens (an HTTP matter) stay in api.auth.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from desk import audit
from desk.errors import InvalidInput
from desk.models import Party, User
from desk.vocab import AuditAction, Role

DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN = Role.duty_officer, Role.responder, Role.supervisor, Role.admin
ROLES = tuple(Role)
LANGUAGES = ("zh", "en")
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")

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


def check_password(password: str, username: str) -> None:
    """Refuse a password a guesser would try early: short, one kind of character only, or the user's name."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 个字符", code="password.too_short", field="password",
                           params={"n": MIN_PASSWORD})
    kinds = sum(bool(re.search(p, password)) for p in (r"[A-Za-z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if kinds < 2 or (username and username.lower() in password.lower()) or len(set(password)) < 4:
        raise InvalidInput("密码太弱：请混合使用字母、数字或符号，且不要包含用户名", code="password.weak",
                           field="password")


def _check_fields(session: Session, *, role: str, party_code: str | None, language: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"角色须为 {', '.join(ROLES)} 之一", code="user.role_unknown", field="role")
    if role == RESPONDER and not party_code:
        raise InvalidInput("责任单位联络员须属于一个责任单位，请选择单位（--party CODE）", code="user.party_missing",
                           field="party")
    if party_code and session.get(Party, party_code) is None:
        raise InvalidInput(f"未知的责任单位代码：{party_code}", code="party.unknown", field="party",
                           params={"party": party_code})
    if language not in LANGUAGES:
        raise InvalidInput("语言须为 zh 或 en", code="user.language_unknown", field="language")


def get_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def create_user(session: Session, *, username: str, password: str, role: str, party_code: str | None = None,
                display_name: str = "", language: str = "zh", phone: str = "", actor: str = audit.CLI) -> User:
    username = username.strip()
    if not _USERNAME.match(username):
        raise InvalidInput("用户名须为 2–64 个字母、数字、点、下划线或连字符，以字母或数字开头",
                           code="user.name_invalid", field="username")
    if get_user(session, username) is not None:
        raise InvalidInput(f"用户名 {username} 已被使用，请换一个", code="user.duplicate", field="username",
                           params={"username": username})
    party_code = party_code or None
    _check_fields(session, role=role, party_code=party_code, language=language)
    check_password(password, username)
    user = User(username=username, password_hash=hash_password(password), role=role, party_code=party_code,
                display_name=display_name.strip()[:100] or username, language=language, phone=phone.strip()[:32])
    session.add(user)
    audit.record(session, actor=actor, action=AuditAction.user_added, target=username,
                 detail={"role": role, "party": party_code or ""})
    session.commit()
    session.refresh(user)
    return user


def update_user(session: Session, user: User, *, role: str, party_code: str | None, display_name: str,
                language: str, phone: str = "", actor: str) -> dict[str, str]:
    """Change what an admin may change; returns what changed (old → new). A new role or party ends the
    user's sessions (what they may see changed)."""
    party_code = party_code or None
    _check_fields(session, role=role, party_code=party_code, language=language)
    new = {"role": role, "party_code": party_code, "display_name": display_name.strip()[:100] or user.username,
           "language": language, "phone": phone.strip()[:32]}
    changed = {k: f"{getattr(user, k) or ''} → {v or ''}" for k, v in new.items() if getattr(user, k) != v}
    if not changed:
        return {}
    for key, value in new.items():
        setattr(user, key, value)
    if "role" in changed or "party_code" in changed:
        revoke_tokens(session, user)
    session.add(user)
    audit.record(session, actor=actor, action=AuditAction.user_changed, target=user.username, detail=changed)
    session.commit()
    return changed


def revoke_tokens(session: Session, user: User) -> None:
    """End every token and session of this user (the caller commits)."""
    user.token_version += 1
    session.add(user)


def set_password(session: Session, user: User, password: str, *, actor: str = audit.CLI) -> None:
    """A new password; every token and session issued with the old one stops working."""
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    revoke_tokens(session, user)
    audit.record(session, actor=actor, action=AuditAction.user_password_reset, target=user.username)
    session.commit()


def disable_user(session: Session, user: User, *, actor: str = audit.CLI) -> None:
    """No more logins, and every token and session ends now."""
    user.active = False
    revoke_tokens(session, user)
    audit.record(session, actor=actor, action=AuditAction.user_disabled, target=user.username)
    session.commit()


def enable_user(session: Session, user: User, *, actor: str = audit.CLI) -> None:
    """Logins again (tokens from before it was disabled stay revoked)."""
    user.active = True
    session.add(user)
    audit.record(session, actor=actor, action=AuditAction.user_enabled, target=user.username)
    session.commit()
