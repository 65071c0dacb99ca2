"""/api/handovers: the shift handover (交接班). The outgoing duty officer hands over (the note is frozen and the
confirmation clock starts); the incoming one confirms; a handover not confirmed in time goes to the supervisor."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import CurrentUser, DeskDep, RowId, SessionDep, require
from api.schemas import HandoverDraftOut, HandoverIn, HandoverOut
from desk import handover
from desk.models import Handover
from desk.vocab import ON_CITY_DUTY

router = APIRouter(prefix="/api/handovers", tags=["handovers"], dependencies=[Depends(require(*ON_CITY_DUTY))])


def handover_out(row: Handover) -> HandoverOut:
    assert row.id is not None
    return HandoverOut(id=row.id, outgoing=row.outgoing, incoming=row.incoming, status=row.status,
                       shift_start=row.shift_start, shift_end=row.shift_end, handed_over_at=row.handed_over_at,
                       confirm_due_at=row.confirm_due_at, confirmed_at=row.confirmed_at, escalated_at=row.escalated_at,
                       remarks=row.remarks, note=row.note)


@router.get("", response_model=list[HandoverOut], summary="The latest handovers")
def list_handovers(session: SessionDep) -> list[HandoverOut]:
    return [handover_out(h) for h in handover.recent_handovers(session)]


@router.get("/draft", response_model=HandoverDraftOut, summary="The note for my shift, as it stands now")
def handover_draft(session: SessionDep, user: CurrentUser) -> HandoverDraftOut:
    d = handover.draft(session, user=user)
    return HandoverDraftOut(shift_start=d.shift_start, shift_end=d.shift_end, on_roster=d.on_roster,
                            incoming=d.incoming, note=d.note)


@router.post("", status_code=201, response_model=HandoverOut, summary="Hand my shift over")
async def hand_over(data: HandoverIn, session: SessionDep, user: CurrentUser, desk: DeskDep) -> HandoverOut:
    return handover_out(await handover.hand_over(session=session, desk=desk, user=user, incoming=data.incoming,
                                                 remarks=data.remarks))


@router.get("/{handover_id}", response_model=HandoverOut, summary="One handover")
def get_handover(handover_id: RowId, session: SessionDep) -> HandoverOut:
    return handover_out(handover.get_handover(session, handover_id))


@router.post("/{handover_id}/confirm", response_model=HandoverOut, summary="Take the shift over (the incoming officer)")
async def confirm(handover_id: RowId, session: SessionDep, user: CurrentUser, desk: DeskDep) -> HandoverOut:
    return handover_out(await handover.confirm_handover(session=session, desk=desk, user=user, handover_id=handover_id))
