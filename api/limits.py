"""Limits at the door, before any route runs: a cap on the body's size, and no text the database cannot
store (NUL characters, lone UTF-16 surrogates).

The largest honest request (an incident with a 5,000-character summary) is a few tens of kilobytes;
the cap leaves plenty of room, and an oversized upload gets a 413 with a sentence. PostgreSQL refuses
NUL in text and no database can store a lone surrogate: let through, such text would fail the workflow's
record activity over and over (the action would hang) or the query (a 500). Refused here, once, for every
field, path and query parameter, with a 422 that says what to fix.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
UPLOAD_PATH = re.compile(r"^/(api/)?incidents/[^/]+/attachments/?$")  # files as evidence: multipart, binary
BAD_TEXT = "内容中含有无法保存的字符（空字符 NUL 或不成对的代理字符），请删除后重试。"


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _any_unstorable(value: object) -> bool:
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, dict):
        return any(_any_unstorable(k) or _any_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_any_unstorable(v) for v in value)
    return False


class RequestLimits:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, upload_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"detail": message}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope.get("method") == "POST" and UPLOAD_PATH.match(scope.get("path", "")) \
                and headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            await self._upload(scope, receive, send, headers)
            return
        too_large = f"请求内容过大（上限 {self.max_bytes // 1024} KB），请精简后重试。"
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._refuse(send, 400, "请求头 Content-Length 无效。")
                return
            if declared > self.max_bytes:
                await self._refuse(send, 413, too_large)
                return
        query = scope.get("query_string", b"").decode("latin-1")
        if _unstorable(scope.get("path", "")) or _unstorable(unquote(query, errors="surrogateescape")):
            await self._refuse(send, 422, BAD_TEXT)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return

        # Read the (capped) body, look at it, then hand the same bytes to the app.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if b"\x00" in body:
            bad = True
        elif content_type == b"application/json" or content_type.endswith(b"+json"):
            try:
                bad = _any_unstorable(json.loads(body))
            except (ValueError, RecursionError):
                bad = False  # not JSON: FastAPI answers 422 "请求体不是有效的 JSON"
        elif content_type == b"application/x-www-form-urlencoded":
            bad = any(_unstorable(k) or _unstorable(v)
                      for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True, errors="surrogateescape"))
        else:
            bad = False
        if bad:
            await self._refuse(send, 422, BAD_TEXT)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, headers: dict) -> None:
        """Files are binary (NUL is no fault there) and large: streamed to the app, never held here, counted on
        the way; past the cap the app's answer is replaced by the 413 (it was still reading the body)."""
        too_large = f"上传内容过大（一次最多 {self.upload_bytes // (1024 * 1024)} MB），请分批上传。"
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.upload_bytes):
            await self._refuse(send, 413 if length.isdigit() else 400,
                               too_large if length.isdigit() else "请求头 Content-Length 无效。")
            return
        size, over, refused = 0, False, False

        async def counted() -> Message:
            nonlocal size, over
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.upload_bytes:
                over = True
                raise ValueError("upload over the cap")
            return message

        async def answer(message: Message) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif message["type"] == "http.response.start" and not refused:
                refused = True
                await self._refuse(send, 413, too_large)

        try:
            await self.app(scope, counted, answer)
        except ValueError:
            if not over:
                raise
            if not refused:
                await self._refuse(send, 413, too_large)
