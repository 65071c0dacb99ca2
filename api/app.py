"""The FastAPI application: JSON API under /api, health probes, (pages added by the web layer)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from temporalio.client import Client

from api.auth import Tokens
from api.errors import desk_error
from api.headers import SecurityHeaders
from api.limits import MAX_BODY_BYTES, RequestLimits
from api.metrics import install_metrics
from api.routes import attachments, auth, board, handovers, health, incidents, parties, roster, stats
from api.web import install as install_pages
from desk.blobs import blob_store
from desk.db import init_db
from desk.directory import Directory
from desk.errors import DeskError
from desk.holidays import configured_policy
from desk.service import Desk
from desk.settings import Settings, get_settings

log = logging.getLogger("desk.api")


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# Pydantic's built-in messages, said in Chinese (our own validators already speak Chinese).
_ZH = {
    "missing": "必填",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_too_short": "不能为空",
    "enum": "取值无效，可选：{expected}",
    "literal_error": "取值无效，可选：{expected}",
    "datetime_parsing": "时间格式无效，请使用 ISO 8601，例如 2026-11-27T09:30:00+08:00",
    "datetime_from_date_parsing": "时间格式无效，请使用 ISO 8601，例如 2026-11-27T09:30:00+08:00",
    "datetime_type": "时间格式无效",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "int_parsing": "须为整数",
    "string_type": "须为文本",
    "extra_forbidden": "不认识的字段",
    "json_invalid": "请求体不是有效的 JSON",
    "model_attributes_type": "请求体须为 JSON 对象",
    "dict_type": "请求体须为 JSON 对象",
    "string_pattern_mismatch": "格式不正确",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
}


def _message(error: dict) -> str:
    template = _ZH.get(str(error.get("type")))
    if template:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            return template.split("{")[0].rstrip("：: ")
    msg = str(error.get("msg", ""))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable message per field (and the field's name), nothing stored."""
    errors = [
        {"loc": list(e.get("loc", ())), "field": _field_name(tuple(e.get("loc", ()))), "msg": _message(e),
         "type": e.get("type", "value_error")}
        for e in exc.errors()
    ]
    summary = "；".join(f"{e['field']}: {e['msg']}" for e in errors)[:1000]
    return JSONResponse({"detail": errors, "message": f"输入有误：{summary}"}, status_code=422)


DATABASE_DOWN = "数据库暂时无法连接，操作未执行，请稍后重试。"


async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    """The desk's database cannot be reached: a clear 503, nothing done (the clocks keep running)."""
    log.warning("database unavailable: %s", str(exc.orig)[:200])
    return JSONResponse({"detail": DATABASE_DOWN}, status_code=503, headers={"Retry-After": "30"})


def create_app(settings: Settings | None = None, *, client: Client | None = None,
               database_url: str | None = None, task_queue: str | None = None) -> FastAPI:
    """Build the app. Tests pass their own client, database and task queue; production reads settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        init_db(app.state.database_url)
        if app.state.desk.client is None:
            from desk.temporal import connect

            # Lazy: the API comes up (and says 503 on actions) even while Temporal is still starting.
            app.state.desk.client = await connect(settings, lazy=True)
        yield

    # /docs and /openapi.json map every route and field for whoever asks: only where an operator turned them
    # on (DESK_API_DOCS=true). app.openapi() still builds the document for the tests and for export.
    docs = settings.api_docs
    app = FastAPI(
        title="舆情回应台 Opinion Response Desk",
        description="Public-opinion response deadlines, durable and enforced (Bazhong policy by default).",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database_url = database_url or settings.resolved_database_url
    settings.resolved_metrics_token()  # refuse a guessable one before anything starts
    app.state.tokens = Tokens(settings.resolved_secret_key(), settings.token_ttl_minutes)
    app.state.directory = Directory.from_settings(settings)  # None: local accounts only
    app.state.desk = Desk(
        client=client,
        task_queue=task_queue or settings.temporal_task_queue,
        policy=configured_policy(settings.policy, settings.holidays),
        drill_policy=configured_policy(settings.drill_policy, settings.holidays),
        public_url=settings.resolved_public_url,
    )
    # exception_handler(...)(handler), not add_exception_handler: the same registration, typed for a handler of one
    # exception class (Starlette's add_exception_handler wants one that takes any Exception).
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(OperationalError)(database_unavailable)
    app.add_exception_handler(DeskError, desk_error)
    app.state.blobs = blob_store(settings.data_dir)
    # An upload may carry its files in one body: the cap at the door is theirs, the size of each is checked after.
    app.add_middleware(RequestLimits, upload_bytes=settings.attachment_max_bytes * settings.attachment_max_files
                       + MAX_BODY_BYTES)
    for module in (auth, incidents, attachments, parties, board, stats, roster, handovers, health):
        app.include_router(module.router)
    install_metrics(app, app.state.database_url)
    install_pages(app)
    app.add_middleware(SecurityHeaders, docs_paths=("/docs", "/docs/oauth2-redirect") if docs else ())  # outermost
    return app
