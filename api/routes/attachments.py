"""/api/incidents/{id}/attachments: files kept as evidence (desk.attachments). Whoever sees the incident sees its
files; another party's responder gets the 404 of an incident that does not exist, as for the incident itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile as ReceivedFile

from api.deps import BlobsDep, CurrentUser, DeskDep, SessionDep, ensure_can_see, require
from api.routes.incidents import ACCEPTED, RECORDED_LATER, IdempotencyKey
from api.schemas import AttachmentOut
from desk import attachments as att
from desk.filetypes import INLINE
from desk.inputs import WithdrawIn
from desk.models import Attachment, Incident
from desk.service import get_incident
from desk.settings import Settings
from desk.vocab import EVERYONE

router = APIRouter(prefix="/api/incidents", tags=["attachments"])
FILE = "/{human_id}/attachments/{key}"


def limits(settings: Settings) -> att.Limits:
    return att.Limits(max_bytes=settings.attachment_max_bytes, max_files=settings.attachment_max_files)


def uploads_of(files: Sequence[ReceivedFile]) -> list[att.Upload]:
    """The files a form sent; a file input left empty sends a nameless empty part, which is no file."""
    return [att.Upload(name=f.filename or "", file=f.file) for f in files if f.filename or (f.size or 0) > 0]


def attachment_out(incident: Incident, row: Attachment) -> AttachmentOut:
    url = f"/api/incidents/{incident.human_id}/attachments/{row.key}"
    return AttachmentOut(
        key=row.key, name=row.name, sha256=row.sha256, size=row.size, content_type=row.content_type,
        uploaded_by=row.uploaded_by, uploaded_at=row.created_at, url=url,
        thumbnail_url=f"{url}/thumbnail" if row.thumb_sha256 else None, withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by, withdrawn_reason=row.withdrawn_reason)


def _visible(session: Session, user, human_id: str) -> Incident:  # noqa: ANN001 (CurrentUser)
    incident = get_incident(session=session, human_id=human_id)
    ensure_can_see(session, user, incident)
    return incident


@router.get("/{human_id}/attachments", response_model=list[AttachmentOut],
            summary="The incident's files, withdrawn ones too (证据/附件)")
def list_attachments(human_id: str, user: CurrentUser, session: SessionDep) -> list[AttachmentOut]:
    incident = _visible(session, user, human_id)
    return [attachment_out(incident, row) for row in att.attachments_of(session=session, incident=incident)]


@router.post("/{human_id}/attachments", status_code=201, response_model=list[AttachmentOut], responses=ACCEPTED,
             summary="Upload files as evidence (multipart, one or more `files`)",
             dependencies=[Depends(require(*EVERYONE))])
async def upload(human_id: str, request: Request, files: Annotated[list[UploadFile], File()], user: CurrentUser,
                 session: SessionDep, desk: DeskDep, blobs: BlobsDep, key: IdempotencyKey = None):
    incident = _visible(session, user, human_id)
    added, recorded = await att.add_attachments(
        session=session, desk=desk, store=blobs, incident=incident, user=user, uploads=uploads_of(files),
        limits=limits(request.app.state.settings), idempotency_key=key)
    if not recorded:
        return JSONResponse({"id": incident.human_id, "recorded": False, "detail": RECORDED_LATER,
                             "attachments": [f.key for f in added]}, status_code=202)
    rows = {r.key: r for r in session.exec(select(Attachment).where(
        col(Attachment.key).in_([f.key for f in added]))).all()}
    return [attachment_out(incident, rows[f.key]) for f in added]


@router.post(FILE + "/withdraw", response_model=AttachmentOut, responses=ACCEPTED,
             summary="Withdraw a file with a reason (its uploader or a supervisor); it stays listed",
             dependencies=[Depends(require(*EVERYONE))])
async def withdraw(human_id: str, key: str, body: WithdrawIn, user: CurrentUser, session: SessionDep, desk: DeskDep,
                   idempotency_key: IdempotencyKey = None):
    incident = _visible(session, user, human_id)
    row, recorded = await att.withdraw_attachment(session=session, desk=desk, incident=incident, user=user, key=key,
                                                  reason=body.reason, idempotency_key=idempotency_key)
    if not recorded:
        return JSONResponse({"id": incident.human_id, "recorded": False, "detail": RECORDED_LATER}, status_code=202)
    return attachment_out(incident, row)


def file_response(request: Request, blobs: BlobsDep, sha256: str, content_type: str, name: str, size: int | None,
                  inline: bool) -> Response:
    """The bytes, never guessed at by the browser (nosniff): raster images shown, everything else downloaded."""
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(att.content(blobs, sha256), media_type=content_type, headers=headers)


@router.get(FILE, summary="A file's bytes (images inline, every other type as a download)",
            response_class=StreamingResponse)
def fetch(human_id: str, key: str, request: Request, user: CurrentUser, session: SessionDep, blobs: BlobsDep):
    incident = _visible(session, user, human_id)
    row = att.attachment_of(session=session, incident=incident, key=key)
    return file_response(request, blobs, row.sha256, row.content_type, row.name, row.size,
                         inline=row.content_type in INLINE)


@router.get(FILE + "/thumbnail", summary="An image's thumbnail (JPEG, at most 320×320)",
            response_class=StreamingResponse)
def thumbnail(human_id: str, key: str, request: Request, user: CurrentUser, session: SessionDep, blobs: BlobsDep):
    incident = _visible(session, user, human_id)
    row = att.attachment_of(session=session, incident=incident, key=key)
    if not row.thumb_sha256:
        return JSONResponse({"detail": "该附件不是图片，没有缩略图。"}, status_code=404)
    return file_response(request, blobs, row.thumb_sha256, "image/jpeg", f"{row.name}.jpg", None, inline=True)
