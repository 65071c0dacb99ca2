"""GET /healthz (liveness) and GET /readyz (database and Temporal reachable)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session

from api.deps import get_session

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and Temporal reachable")
async def readyz(request: Request, session: Session = Depends(get_session)) -> JSONResponse:
    checks = {}
    try:
        session.exec(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is what the probe is for
        checks["database"] = f"error: {type(exc).__name__}"
    client = request.app.state.desk.client
    try:
        if client is None:
            raise RuntimeError("not connected")
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"error: {exc}"[:200]
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
