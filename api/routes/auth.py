"""POST /api/auth/token: OAuth2 password form -> bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import Tokens
from api.deps import get_tokens
from api.ratelimit import log_in
from api.schemas import TokenOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


# async: the password check waits for a hashing slot without holding one of the threads sync routes run on.
@router.post("/token", response_model=TokenOut, summary="Log in with username and password")
async def issue_token(request: Request, form: OAuth2PasswordRequestForm = Depends(),
                      tokens: Tokens = Depends(get_tokens)) -> TokenOut:
    user = await log_in(request, form.username, form.password)
    return TokenOut(access_token=tokens.issue(user, "api"), expires_in=tokens.ttl_seconds)
