"""GET /healthz (liveness) and GET /readyz (database and Temporal reachable)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep

router = APIRouter(tags=["health"])
log = logging.getLogger("desk.api")


@router.get("/healthz", summary="Liveness")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and Temporal reachable")
async def readyz(request: Request, session: SessionDep) -> JSONResponse:
    # Anyone may probe: the answer says which part is down, never why (addresses, drivers and error texts
    # go to the log, for the operator).
    checks = {}
    try:
        session.connection().execute(text("SELECT 1"))  # exec() is typed for select(), not text()
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is what the probe is for
        log.warning("readyz: the database did not answer: %s: %s", type(exc).__name__, exc)
        checks["database"] = "error"
    client = request.app.state.desk.client
    try:
        if client is None:
            raise RuntimeError("not connected")
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as exc:
        log.warning("readyz: Temporal did not answer: %s", exc)
        checks["temporal"] = "error"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
