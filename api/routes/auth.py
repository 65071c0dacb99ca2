"""POST /api/auth/token: OAuth2 password form -> bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from api.auth import Tokens, authenticate
from api.deps import get_session, get_tokens
from api.ratelimit import check_login_allowed, record_login
from api.schemas import TokenOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, summary="Log in with username and password")
def issue_token(request: Request, form: OAuth2PasswordRequestForm = Depends(),
                session: Session = Depends(get_session), tokens: Tokens = Depends(get_tokens)) -> TokenOut:
    check_login_allowed(request, form.username)
    user = authenticate(session, form.username, form.password)
    record_login(request, form.username, user is not None)
    if user is None:
        raise HTTPException(401, "用户名或密码错误。", headers={"WWW-Authenticate": "Bearer"})
    return TokenOut(access_token=tokens.issue(user, "api"), expires_in=tokens.ttl_seconds)
