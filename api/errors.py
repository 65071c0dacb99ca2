"""The JSON API's answer to a refusal of the incident service (desk.errors): the one place that says which
HTTP status each kind of refusal is, and how its body looks."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from desk.errors import (
    Conflict,
    DeskError,
    EngineUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    UnsupportedType,
)

STATUS: dict[type[DeskError], int] = {
    NotFound: 404,
    Forbidden: 403,
    TooLarge: 413,  # before InvalidInput: the first kind that matches decides
    UnsupportedType: 415,
    InvalidInput: 422,
    Conflict: 409,
    EngineUnavailable: 503,
}


def status_of(exc: DeskError) -> int:
    return next((status for kind, status in STATUS.items() if isinstance(exc, kind)), 400)


def body_of(exc: DeskError) -> dict:
    """{"detail": sentence, "code": ...}; a refused field in the 422 shape of request validation."""
    if exc.field:  # invalid input, or a file already kept (a conflict on the field)
        detail: object = [{"loc": ["body", exc.field], "field": exc.field, "msg": exc.message, "type": "value_error"}]
    else:
        detail = exc.message
    return {"detail": detail, "code": exc.code}


async def desk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeskError)
    return JSONResponse(body_of(exc), status_code=status_of(exc))
