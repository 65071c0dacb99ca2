"""Directory login (LDAP): the unit's directory says who someone is and which groups they are in; the desk
maps those groups to a role and a party and keeps a local user row for them. No HTTP here.

Who is asked: a name with a local password (the break-glass admin made by `opinion-desk user add`) is
checked locally only and never reaches the directory, so a directory that is down or slow locks no local
account out. Every other name goes to the directory, when one is configured (DESK_LDAP_URL).

How a user is found: with a service account (DESK_LDAP_BIND_DN / _PASSWORD) the desk searches
DESK_LDAP_USER_BASE with DESK_LDAP_USER_FILTER and binds as the one entry found; without one it binds
straight as DESK_LDAP_USER_DN with the name filled in. Then it reads the user's groups under
DESK_LDAP_GROUP_BASE and maps them with the TOML file DESK_LDAP_GROUPS:

    [roles]                                 # the first group listed that the user is in sets the role
    "desk-admins" = "admin"
    "cn=duty,ou=groups,dc=example,dc=cn" = "duty_officer"   # a group by its cn or its full DN
    [parties]                               # likewise the party (a responder needs one)
    "bazhou-liaisons" = "bazhou"

A directory user's row carries no password anyone could type (``DIRECTORY_PASSWORD``); each login
rewrites its role, party and name from the directory.
"""

from __future__ import annotations

import logging
import math
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn
from sqlmodel import Session, select

from desk.errors import DeskError
from desk.models import Party, User
from desk.settings import Settings
from desk.users import DIRECTORY_PASSWORD, RESPONDER, from_directory
from desk.vocab import Role

log = logging.getLogger("desk.directory")

WRONG_PASSWORD = "用户名或密码错误。"
NOT_ADMITTED = "您的目录账号不在本系统授权的任何组中，暂不能登录；请联系管理员开通。"
NO_PARTY = "您的目录账号属于回应人员组，但不在任何责任单位的组中，暂不能登录；请联系管理员。"
UNAVAILABLE = "目录服务（LDAP）暂时无法连接，请稍后再试或联系管理员。"


class DirectoryConfigError(ValueError):
    """The directory settings cannot work; the message says which setting to fix. The desk refuses to start."""


class LoginRefused(DeskError):
    """A directory login that did not go through: ``message`` is the Chinese sentence, ``code`` its catalog key."""


class WrongCredentials(LoginRefused):
    """Wrong password or no such user: one answer for both, so names cannot be probed (the log tells which)."""

    code = "login.wrong_password"

    def __init__(self) -> None:
        super().__init__(WRONG_PASSWORD)


class NotAdmitted(LoginRefused):
    """The password was right but no mapped group admits the user (or a responder has no party)."""

    code = "login.no_group"


class DirectoryUnavailable(LoginRefused):
    """The directory cannot be reached or refused the desk's own account: nothing was decided about the user."""

    code = "login.directory_unavailable"

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE)


@dataclass(frozen=True)
class GroupMap:
    """Directory groups (by lower-cased cn or DN) → role, and → party code; file order is precedence."""

    roles: dict[str, Role] = field(default_factory=dict)
    parties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> GroupMap:
        where = f"DESK_LDAP_GROUPS ({path})"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DirectoryConfigError(f"{where}: cannot read the file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DirectoryConfigError(f"{where}: not valid TOML: {exc}") from None
        unknown = set(data) - {"roles", "parties"}
        if unknown:
            raise DirectoryConfigError(f"{where}: unknown table {', '.join(sorted(unknown))}; expected [roles] and [parties]")
        roles: dict[str, Role] = {}
        for group, role in dict(data.get("roles", {})).items():
            if role not in tuple(Role):
                raise DirectoryConfigError(f"{where}: [roles] \"{group}\" = \"{role}\": the role must be one of "
                                           f"{', '.join(Role)}")
            roles[group.strip().lower()] = Role(role)
        parties = {group.strip().lower(): str(code) for group, code in dict(data.get("parties", {})).items()}
        if not roles:
            raise DirectoryConfigError(f"{where}: no [roles]: map at least one directory group to a role")
        return cls(roles=roles, parties=parties)

    def role_of(self, groups: list[tuple[str, str]]) -> Role | None:
        return _first(self.roles, groups)

    def party_of(self, groups: list[tuple[str, str]]) -> str | None:
        return _first(self.parties, groups)


def _first(mapping: dict, groups: list[tuple[str, str]]):
    names = {name for group in groups for name in group}
    return next((value for key, value in mapping.items() if key in names), None)


@dataclass(frozen=True)
class DirectoryAccount:
    """What the directory vouched for: the user's canonical name, entry, name to show and mapped role/party."""

    username: str
    dn: str
    display_name: str
    groups: list[tuple[str, str]]  # (cn, dn), lower-cased
    role: Role
    party_code: str | None


@dataclass(frozen=True)
class Directory:
    url: str
    groups: GroupMap
    group_base: str
    bind_dn: str | None = None
    bind_password: str | None = None
    user_dn: str | None = None
    user_base: str | None = None
    user_filter: str = "(uid={username})"
    group_filter: str = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))"
    username_attribute: str = "uid"
    display_name_attribute: str = "cn"
    start_tls: bool = False
    ca_file: Path | None = None
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory | None:
        """The configured directory (None: DESK_LDAP_URL unset); raises DirectoryConfigError for settings
        that cannot work, so the desk refuses to start instead of refusing every directory login."""
        if not settings.ldap_url:
            return None
        if not settings.ldap_url.lower().startswith(("ldap://", "ldaps://")):
            raise DirectoryConfigError(f"DESK_LDAP_URL '{settings.ldap_url}' must start with ldap:// or ldaps://")
        if settings.ldap_groups is None:
            raise DirectoryConfigError("DESK_LDAP_URL is set but DESK_LDAP_GROUPS is not: give the TOML file that "
                                       "maps directory groups to roles and parties")
        if not settings.ldap_group_base:
            raise DirectoryConfigError("DESK_LDAP_URL is set but DESK_LDAP_GROUP_BASE is not: give the DN the "
                                       "groups are under (e.g. ou=groups,dc=example,dc=cn)")
        if settings.ldap_bind_dn:
            if not settings.ldap_bind_password or not settings.ldap_user_base:
                raise DirectoryConfigError("DESK_LDAP_BIND_DN needs DESK_LDAP_BIND_PASSWORD and DESK_LDAP_USER_BASE "
                                           "(where to search for users)")
        elif not settings.ldap_user_dn or "{username}" not in settings.ldap_user_dn:
            raise DirectoryConfigError("give either a service account (DESK_LDAP_BIND_DN, _BIND_PASSWORD, _USER_BASE) "
                                       "or DESK_LDAP_USER_DN with {username} in it (e.g. uid={username},ou=people,"
                                       "dc=example,dc=cn)")
        return cls(url=settings.ldap_url, groups=GroupMap.load(settings.ldap_groups),
                   group_base=settings.ldap_group_base, bind_dn=settings.ldap_bind_dn,
                   bind_password=settings.ldap_bind_password, user_dn=settings.ldap_user_dn,
                   user_base=settings.ldap_user_base, user_filter=settings.ldap_user_filter,
                   group_filter=settings.ldap_group_filter, username_attribute=settings.ldap_username_attribute,
                   display_name_attribute=settings.ldap_display_name_attribute, start_tls=settings.ldap_start_tls,
                   ca_file=settings.ldap_ca_file, timeout=settings.ldap_timeout_seconds)

    # --- talking to the directory ---------------------------------------------------------------------

    def _server(self) -> Server:
        tls = None
        if self.start_tls or self.url.lower().startswith("ldaps://"):  # ldap3 would not check the certificate
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file) if self.ca_file else None)
        return Server(self.url, connect_timeout=self.timeout, get_info=NONE, tls=tls)

    def _connect(self, dn: str, password: str) -> Connection | None:
        """A connection bound as ``dn``; None if the directory says the password is wrong (or no such DN)."""
        # SO_RCVTIMEO is packed as whole seconds: ldap3 needs an int here.
        conn = Connection(self._server(), user=dn, password=password, receive_timeout=math.ceil(self.timeout),
                          read_only=True, raise_exceptions=False)
        try:
            conn.open()
            if self.start_tls and not conn.start_tls():
                raise LDAPException(f"StartTLS refused: {conn.result}")
            if conn.bind():
                return conn
        except LDAPException:
            conn.unbind()
            raise
        result = conn.result or {}
        conn.unbind()
        if result.get("result") == 49:  # invalidCredentials
            return None
        raise LDAPException(f"bind as {dn} answered {result.get('description')}: {result.get('message')}")

    def _search(self, conn: Connection, base: str, query: str, attributes: list[str], scope=SUBTREE,
                limit: int = 0) -> list[dict]:
        conn.search(base, query, search_scope=scope, attributes=attributes, size_limit=limit)
        result = (conn.result or {}).get("result")
        if result == 32:  # noSuchObject
            return []
        if result not in (0, 4):  # 4, sizeLimitExceeded: what came is enough to say "more than one"
            raise LDAPException(f"search under {base} answered {conn.result}")
        return [entry for entry in conn.response or [] if entry.get("type") == "searchResEntry"]

    def authenticate(self, username: str, password: str) -> DirectoryAccount:
        """Who the directory says this is, with the mapped role and party. Raises WrongCredentials (also for
        an unknown name), NotAdmitted, DirectoryUnavailable."""
        if not username or not password:  # an empty password is an anonymous bind, which always "succeeds"
            raise WrongCredentials()
        service = None
        try:
            if self.bind_dn:
                service = self._connect(self.bind_dn, self.bind_password or "")
                if service is None:
                    log.error("directory: the service account %s was refused (DESK_LDAP_BIND_PASSWORD)", self.bind_dn)
                    raise DirectoryUnavailable()
                query = self.user_filter.replace("{username}", escape_filter_chars(username))
                found = self._search(service, self.user_base or "", query, [], limit=2)
                if len(found) != 1:
                    log.info("directory login refused: %s names %d entries", username, len(found), extra={"reason": (
                        "unknown user" if not found else "ambiguous user")})
                    raise WrongCredentials()
                dn = found[0]["dn"]
            else:
                dn = (self.user_dn or "").replace("{username}", escape_rdn(username))
            user_conn = self._connect(dn, password)
            if user_conn is None:
                log.info("directory login refused: wrong password or no entry %s", dn,
                         extra={"reason": "wrong password"})
                raise WrongCredentials()
            reader = service or user_conn
            try:
                return self._account(reader, username, dn)
            finally:
                user_conn.unbind()
        except LDAPException as exc:
            log.warning("directory unavailable (%s): %s", self.url, str(exc)[:300])
            raise DirectoryUnavailable() from None
        finally:
            if service is not None:
                service.unbind()

    def _account(self, conn: Connection, username: str, dn: str) -> DirectoryAccount:
        entry = self._search(conn, dn, "(objectClass=*)", [self.username_attribute, self.display_name_attribute],
                             scope=BASE)
        attributes = entry[0]["attributes"] if entry else {}
        canonical = _one(attributes.get(self.username_attribute)) or username
        shown = _one(attributes.get(self.display_name_attribute)) or canonical
        query = (self.group_filter.replace("{dn}", escape_filter_chars(dn))
                 .replace("{username}", escape_filter_chars(canonical)))
        groups = [(_cn_of(g["dn"]), g["dn"].lower()) for g in self._search(conn, self.group_base, query, ["cn"])]
        role = self.groups.role_of(groups)
        party = self.groups.party_of(groups)
        names = ", ".join(cn for cn, _ in groups) or "none"
        if role is None:
            log.info("directory login refused: %s is in no mapped group (groups: %s)", canonical, names,
                     extra={"reason": "no mapped group"})
            raise NotAdmitted(NOT_ADMITTED)
        if role == RESPONDER and party is None:
            log.info("directory login refused: responder %s is in no party's group (groups: %s)", canonical, names,
                     extra={"reason": "no party group"})
            raise NotAdmitted(NO_PARTY, code="login.no_party")
        return DirectoryAccount(username=canonical, dn=dn, display_name=shown, groups=groups, role=role,
                                party_code=party)


def _one(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _cn_of(dn: str) -> str:
    try:
        attribute, value, _ = parse_dn(dn)[0]
    except (LDAPException, IndexError):
        return dn.lower()
    return value.lower() if attribute.lower() == "cn" else dn.lower()


def provision(session: Session, account: DirectoryAccount) -> User:
    """The local row of a directory user, created or brought up to date with what the directory said.
    Refuses (WrongCredentials) a name that belongs to a local account or to a disabled user."""
    if account.party_code and session.get(Party, account.party_code) is None:
        log.error("directory: DESK_LDAP_GROUPS maps %s to party '%s', which the desk does not have",
                  account.username, account.party_code)
        raise NotAdmitted(NOT_ADMITTED)
    user = session.exec(select(User).where(User.username == account.username)).first()
    if user is None:
        user = User(username=account.username[:64], password_hash=DIRECTORY_PASSWORD, role=account.role.value)
    elif not from_directory(user) or not user.active:
        log.info("directory login refused: %s is a local account or disabled here", account.username,
                 extra={"reason": "local or disabled account"})
        raise WrongCredentials()
    user.role = account.role.value
    user.party_code = account.party_code
    user.display_name = account.display_name[:100]
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def log_in(session: Session, directory: Directory, username: str, password: str) -> User:
    """A directory login: the local user row, provisioned or updated. Raises a LoginRefused."""
    return provision(session, directory.authenticate(username, password))
