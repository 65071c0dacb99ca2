"""Responsible parties (责任单位): adding, renaming, deactivating; deleting only one that never had an incident.

The admin pages and `opinion-desk party import` both come here; every change is written with its audit entry
in one commit. A deactivated party is no longer offered for new incidents; its incidents keep it.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from desk import audit
from desk.errors import InvalidInput
from desk.models import Incident, NotificationChannel, Party, User
from desk.vocab import AuditAction

KINDS = ("county", "department", "coordinator")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # an apprise tag


def all_parties(session: Session) -> list[Party]:
    return list(session.exec(select(Party).order_by(col(Party.active).desc(), Party.kind, Party.code)).all())


def _check_name(session: Session, name: str, kind: str, code: str | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("请填写单位名称", code="party.name_missing", field="name")
    if len(name) > 100:
        raise InvalidInput("单位名称不能超过 100 个字符", code="party.name_too_long", field="name", params={"n": 100})
    if kind not in KINDS:
        raise InvalidInput(f"单位类型须为 {', '.join(KINDS)} 之一", code="party.kind_unknown", field="kind")
    clash = session.exec(select(Party).where(Party.name == name, Party.code != (code or ""))).first()
    if clash is not None:
        raise InvalidInput(f"已有名为“{name}”的责任单位（{clash.code}），请换一个名称", code="party.name_taken",
                           field="name", params={"name": name, "code": clash.code})
    return name


def add_party(session: Session, *, code: str, name: str, kind: str, actor: str) -> Party:
    code = code.strip()
    if not CODE.match(code) or len(code) > 64:
        raise InvalidInput("单位代码只能用小写字母、数字、下划线和连字符，以字母或数字开头（如 bazhou、dept-wjw）",
                           code="party.code_invalid", field="code")
    if session.get(Party, code) is not None:
        raise InvalidInput(f"单位代码 {code} 已被使用", code="party.code_taken", field="code", params={"code": code})
    party = Party(code=code, name=_check_name(session, name, kind), kind=kind)
    session.add(party)
    audit.record(session, actor=actor, action=AuditAction.party_added, target=code,
                 detail={"name": party.name, "kind": kind})
    session.commit()
    return party


def update_party(session: Session, party: Party, *, name: str, kind: str, actor: str) -> dict[str, str]:
    """Rename (or change the kind of) a party; returns what changed. Its incidents keep their party."""
    name = _check_name(session, name, kind, party.code)
    changed = {k: f"{getattr(party, k)} → {v}" for k, v in (("name", name), ("kind", kind)) if getattr(party, k) != v}
    if changed:
        party.name, party.kind = name, kind
        session.add(party)
        audit.record(session, actor=actor, action=AuditAction.party_changed, target=party.code, detail=changed)
        session.commit()
    return changed


def set_party_active(session: Session, party: Party, active: bool, *, actor: str) -> None:
    if party.active == active:
        return
    party.active = active
    session.add(party)
    audit.record(session, actor=actor, target=party.code,
                 action=AuditAction.party_activated if active else AuditAction.party_deactivated)
    session.commit()


def delete_party(session: Session, party: Party, *, actor: str) -> None:
    """Only a party nothing refers to: never one with incidents (the assessment counts them), users or channels."""
    incidents = session.exec(select(func.count()).select_from(Incident).where(Incident.party_code == party.code)).one()
    if incidents:
        raise InvalidInput(f"{party.name} 有 {incidents} 起舆情事件，不能删除，只能停用", code="party.has_incidents",
                           field="form", params={"name": party.name, "n": incidents})
    users = session.exec(select(func.count()).select_from(User).where(User.party_code == party.code)).one()
    channels = session.exec(select(func.count()).select_from(NotificationChannel)
                            .where(NotificationChannel.party_code == party.code)).one()
    if users or channels:
        raise InvalidInput(f"{party.name} 还有用户或通知渠道，请先改派或删除它们，或者停用该单位",
                           code="party.in_use", field="form", params={"name": party.name})
    session.delete(party)
    audit.record(session, actor=actor, action=AuditAction.party_deleted, target=party.code,
                 detail={"name": party.name})
    session.commit()


def import_file(session: Session, path: Path, *, actor: str) -> tuple[int, int]:
    """`opinion-desk party import FILE`: add or rename from a TOML file. Returns (added, updated)."""
    from desk.db import import_parties

    added, updated = import_parties(session, path, commit=False)
    audit.record(session, actor=actor, action=AuditAction.parties_imported, target=str(path)[:200],
                 detail={"added": added, "updated": updated})
    session.commit()
    return added, updated
