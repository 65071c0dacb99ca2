"""POST /api/auth/token: OAuth2 password form -> bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from api.auth import Tokens, authenticate
from api.deps import get_session, get_tokens
from api.schemas import TokenOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, summary="Log in with username and password")
def issue_token(form: OAuth2PasswordRequestForm = Depends(), session: Session = Depends(get_session),
                tokens: Tokens = Depends(get_tokens)) -> TokenOut:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(401, "用户名或密码错误。", headers={"WWW-Authenticate": "Bearer"})
    return TokenOut(access_token=tokens.issue(user, "api"), expires_in=tokens.ttl_seconds)
