"""GET /api/parties: the responsible parties (责任单位)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlmodel import select

from api.deps import SessionDep, current_user
from api.schemas import PartyOut
from desk.models import Party

router = APIRouter(prefix="/api/parties", tags=["parties"], dependencies=[Depends(current_user)])


@router.get("", response_model=list[PartyOut], summary="All active parties")
def list_parties(session: SessionDep) -> list[PartyOut]:
    rows = session.exec(select(Party).where(Party.active == True).order_by(Party.kind, Party.code)).all()  # noqa: E712
    return [PartyOut(code=p.code, name=p.name, kind=p.kind) for p in rows]
