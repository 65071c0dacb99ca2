"""Dependencies: the database session, the current user, role checks, the desk's Temporal side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.auth import Tokens
from api.web import csrf
from desk.blobs import BlobStore
from desk.db import get_engine
from desk.errors import incident_not_found
from desk.models import Incident, User
from desk.service import Desk, can_see

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


# The dependencies are coroutines: FastAPI runs a plain function's dependency in its thread pool, a hand-over per
# dependency and request (a tenth of the API's CPU per action, issue 17's eleventh round). Making a session takes
# no connection; the one that reads (current_user) goes to a thread itself.
async def get_session(request: Request) -> AsyncIterator[Session]:
    with Session(get_engine(request.app.state.database_url), expire_on_commit=False) as session:
        yield session


async def get_desk(request: Request) -> Desk:
    return request.app.state.desk


async def get_blobs(request: Request) -> BlobStore:
    return request.app.state.blobs


async def get_tokens(request: Request) -> Tokens:
    return request.app.state.tokens


async def current_user(
    request: Request,
    token: str | None = Depends(oauth2),
    session: Session = Depends(get_session),
    tokens: Tokens = Depends(get_tokens),
) -> User:
    # Off the event loop: the request's first statement takes a connection from the pool, and a busy pool must
    # make this request wait, not every request in flight (the routes' reads then use this connection).
    return await asyncio.to_thread(_user_of, request, token, session, tokens)


def _user_of(request: Request, token: str | None, session: Session, tokens: Tokens) -> User:
    user = tokens.user(session, token, "api")
    if user is None and not token:
        user = tokens.user(session, request.cookies.get("desk_session"), "session")
        if user is not None:  # a browser's cookie: it is sent cross-site too, so a state change needs proof
            csrf.check_api_request(request)
    if user is None:
        raise HTTPException(401, "请先登录（令牌缺失、无效或已过期）。", headers={"WWW-Authenticate": "Bearer"})
    return user


def require(*roles: str):
    """Route dependency: the user must hold one of these roles."""

    async def check(user: User = Depends(current_user)) -> User:
        if user.role not in roles:
            raise HTTPException(403, "您的角色无权执行此操作。")
        return user

    return check


def ensure_can_see(session: Session, user: User, incident: Incident) -> None:
    """A responder sees and acts only on the incidents its party leads or supports (desk.service.visible_to).
    Another party's answers exactly as an id that does not exist (404), so trying ids tells a county nothing
    about another's incidents or volume."""
    if not can_see(session=session, user=user, incident=incident):
        raise incident_not_found(incident.human_id)


# Route signatures stay one line: `session: SessionDep, user: CurrentUser, desk: DeskDep`.
SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[User, Depends(current_user)]
DeskDep = Annotated[Desk, Depends(get_desk)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a row's number")]  # a larger one would fail in SQL
