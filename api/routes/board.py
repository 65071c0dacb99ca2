"""GET /api/board: the supervisor board's rows and counts (the page polls it)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, require
from api.schemas import Category, Level
from desk.board import DEFAULT_LIMIT, BoardFilters, board
from desk.vocab import BOARD_VIEWERS

router = APIRouter(prefix="/api", tags=["board"])


def board_filters(
    party: str | None = Query(default=None, max_length=64),
    level: Level | None = None,
    category: Category | None = None,
    status: Literal["overdue", "at_risk", "on_track"] | None = None,
    drills: bool = Query(default=False, description="演练默认隐藏"),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=2000),
) -> BoardFilters:
    return BoardFilters(party=party or None, level=level.value if level else None,
                        category=category.value if category else None, status=status, drills=drills, limit=limit)


@router.get("/board",
            summary="Open incidents: overdue, then at risk, then on track, each by the nearest deadline (督办看板)",
            dependencies=[Depends(require(*BOARD_VIEWERS))])
def read_board(filters: Annotated[BoardFilters, Depends(board_filters)], session: SessionDep) -> dict:
    return board(session, filters)
