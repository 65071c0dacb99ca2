"""GET /api/stats and /api/stats.csv: the assessment figures (考核统计) for a period, for supervisors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import SessionDep, require
from desk import stats
from desk.db import session_scope
from desk.models import Party, User
from desk.vocab import SUPERVISORS

router = APIRouter(prefix="/api", tags=["stats"])


def period_query(
    start: date | None = Query(default=None, alias="from", description="首日（北京时间，含），默认本年 1 月 1 日"),
    end: date | None = Query(default=None, alias="to", description="末日（北京时间，含），默认今天"),
) -> stats.Period:
    default = stats.Period.year_to_date()
    start, end = start or default.start, end or default.end
    for name, value in (("from", start), ("to", end)):
        if not date(2000, 1, 1) <= value <= date(2099, 12, 31):  # far dates overflowed the period arithmetic
            raise HTTPException(422, [{"loc": ["query", name], "field": name, "msg": "日期须在 2000-01-01 至 2099-12-31 之间",
                                       "type": "value_error"}])
    if end < start:
        raise HTTPException(422, [{"loc": ["query", "to"], "field": "to", "msg": "结束日期不能早于开始日期",
                                   "type": "value_error"}])
    return stats.Period(start, end)


def party_query(session: SessionDep,
                party: str | None = Query(default=None, max_length=64, description="责任单位代码")) -> str | None:
    if party and session.get(Party, party) is None:
        raise HTTPException(422, [{"loc": ["query", "party"], "field": "party", "msg": f"未知的责任单位代码：{party}",
                                   "type": "value_error"}])
    return party or None


PeriodDep = Annotated[stats.Period, Depends(period_query)]
PartyDep = Annotated[str | None, Depends(party_query)]
Assessor = Annotated[User, Depends(require(*SUPERVISORS))]


@router.get("/stats", summary="Assessment figures for a period (考核统计)")
def read_stats(period: PeriodDep, party: PartyDep, user: Assessor, session: SessionDep) -> dict:
    return stats.assessment(session, period, party=party, language=user.language)


@router.get("/stats.csv", summary="The same figures as CSV (UTF-8 with BOM, opens in Excel)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}})
def read_stats_csv(
    request: Request,
    period: PeriodDep, party: PartyDep, user: Assessor, session: SessionDep,
    detail: bool = Query(default=False, description="true: one row per incident and milestone (明细)"),
) -> StreamingResponse:
    name = f"{'detail' if detail else 'assessment'}_{period.start}_{period.end}{'_' + party if party else ''}.csv"
    if detail:
        body = _detail(request.app.state.database_url, period, party)
    else:
        body = stats.to_csv(stats.summary_rows(stats.assessment(session, period, party=party)))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _detail(database_url: str, period: stats.Period, party: str | None) -> Iterator[str]:
    # Its own session: the rows stream after the request's dependencies have finished.
    with session_scope(database_url) as session:
        yield from stats.to_csv(stats.detail_rows(session, period, party=party))
