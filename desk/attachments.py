"""Attachments kept as evidence (证据/附件, SPEC §9): upload, list, fetch, withdraw. No HTTP here.

An upload is checked whole first (count, empty files, the size limit, the type sniffed from the bytes), then its
bytes go into the blob store (content-addressed), then one workflow update records every file of it as an
``attachment_added`` event. The record activity writes each attachment's row in the transaction of its event,
so a row never exists without its event, and the timeline orders uploads among the other actions exactly as it
orders those. If the update is refused or Temporal is away, the blobs this upload created are removed again
(unless an attachment names them): nothing is left half-made. Evidence is never edited or deleted; it is
withdrawn with a reason, and still listed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlmodel import Session, col, or_, select

from desk import filetypes, ids, refusals
from desk.blobs import BlobStore
from desk.errors import Conflict, DeskError, Forbidden, InvalidInput, NotFound, TooLarge, UnsupportedType
from desk.messages import AddAttachments, AttachmentFile, WithdrawAttachment
from desk.models import Attachment, Incident, User
from desk.service import Desk, act
from desk.vocab import SUPERVISORS
from workflows.incident import IncidentWorkflow

log = logging.getLogger("desk.attachments")
MAX_NAME = 255
THUMB_SIZE = (320, 320)
MAX_PIXELS = 60_000_000  # a photo of 200 megapixels is a decompression bomb, not a phone's picture
MB = 1024 * 1024
_REFUSED = {  # what a refused file is -> the sentence (the pages say it through ERROR_MESSAGES by code)
    filetypes.EXECUTABLE: "文件“{name}”是可执行程序，不能作为证据上传。",
    filetypes.MARKUP: "文件“{name}”是网页或 SVG 图形（可能含脚本），不能上传；请截图或另存为 PDF 后上传。",
    filetypes.ARCHIVE: "文件“{name}”是压缩包，不能上传；请解压后分别上传其中的图片或文档。",
    filetypes.UNKNOWN: "文件“{name}”的类型无法识别，不能上传；可上传图片、PDF、办公文档与表格、文本、音频和视频。",
}


@dataclass
class Upload:
    """One file as received: its name as given, and its bytes (seekable)."""

    name: str
    file: BinaryIO


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_files: int


def clean_name(name: str) -> str:
    """The file's own name (no folders, no control characters), at most 255 characters with its extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().lstrip(".") or "file"
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else base[:MAX_NAME]
    return base


def _size(f: BinaryIO) -> int:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    return size


def _mb(n: int) -> str:
    return f"{n / MB:.1f}".removesuffix(".0")


def check_uploads(uploads: list[Upload], limits: Limits) -> list[tuple[Upload, str, str]]:
    """Every file of an upload, checked before anything is stored: (upload, clean name, content type).
    Raises InvalidInput (field ``files``; TooLarge and UnsupportedType are kinds of it) for the first bad one."""
    if not uploads:
        raise InvalidInput("请选择要上传的文件。", code=refusals.ATTACHMENT_NONE, field="files")
    if len(uploads) > limits.max_files:
        raise InvalidInput(f"一次最多上传 {limits.max_files} 个文件，请分批上传。", code="attachment.too_many",
                           params={"max": limits.max_files}, field="files")
    checked = []
    for upload in uploads:
        name = clean_name(upload.name)
        size = _size(upload.file)
        if size == 0:
            raise InvalidInput(f"文件“{name}”是空的（0 字节），请重新选择。", code="attachment.empty",
                               params={"name": name}, field="files")
        if size > limits.max_bytes:
            raise TooLarge(f"文件“{name}”有 {_mb(size)} MB，超过 {_mb(limits.max_bytes)} MB 的上限，请压缩或拆分后再上传。",
                           params={"name": name, "size": _mb(size), "max": _mb(limits.max_bytes)}, field="files")
        sniffed = filetypes.sniff(upload.file, name)
        if sniffed.content_type is None:
            raise UnsupportedType(_REFUSED[sniffed.refused].format(name=name), code=f"attachment.{sniffed.refused}",
                                  params={"name": name}, field="files")
        checked.append((upload, name, sniffed.content_type))
    return checked


def thumbnail(f: BinaryIO, name: str, content_type: str) -> bytes | None:
    """A JPEG of at most 320×320 for an image (turned upright as the phone took it); None for other files.
    An image Pillow cannot open is refused: it would be evidence nobody can look at."""
    if content_type not in filetypes.THUMBNAILED:
        return None
    from PIL import Image, ImageOps

    damaged = InvalidInput(f"图片“{name}”已损坏或无法打开，请重新截图或拍照后上传。", code="attachment.damaged_image",
                           params={"name": name}, field="files")
    try:
        with Image.open(f) as image:
            if image.width * image.height > MAX_PIXELS:
                raise damaged
            image.draft("RGB", THUMB_SIZE)  # JPEG: decode at a fraction of the size
            shown = ImageOps.exif_transpose(image)
            shown.thumbnail(THUMB_SIZE)
            if shown.mode in ("RGBA", "LA", "P"):
                shown = shown.convert("RGBA")
                background = Image.new("RGB", shown.size, "white")
                background.paste(shown, mask=shown.getchannel("A"))
                shown = background
            out = io.BytesIO()
            shown.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        log.info("image not readable: %s", exc)
        raise damaged from None
    finally:
        f.seek(0)


@dataclass
class _Stored:
    file: AttachmentFile
    upload: Upload
    thumb: bytes | None
    created: list[str]  # blobs this upload made (removed again if it is refused)


def _store(store: BlobStore, checked: list[tuple[Upload, str, str]], seed: str) -> list[_Stored]:
    done: list[_Stored] = []
    try:
        for n, (upload, name, content_type) in enumerate(checked, 1):
            thumb = thumbnail(upload.file, name, content_type)
            upload.file.seek(0)
            blob = store.put(upload.file)
            created = [blob.sha256] if blob.created else []
            thumb_sha = ""
            if thumb is not None:
                small = store.put(io.BytesIO(thumb))
                thumb_sha = small.sha256
                created += [small.sha256] if small.created else []
            done.append(_Stored(AttachmentFile(key=ids.attachment_key(seed, n), sha256=blob.sha256, size=blob.size,
                                               content_type=content_type, name=name, thumb_sha256=thumb_sha),
                                upload, thumb, created))
    except DeskError:  # a damaged image after others were stored
        _forget(store, None, done)
        raise
    return done


def _forget(store: BlobStore, session: Session | None, done: list[_Stored]) -> None:
    """Remove the blobs a refused upload created, unless an attachment names them (the same bytes kept before)."""
    shas = {sha for s in done for sha in s.created}
    if not shas:
        return
    named: set[str] = set()
    if session is not None:
        for sha, thumb in session.exec(select(Attachment.sha256, Attachment.thumb_sha256).where(
                or_(col(Attachment.sha256).in_(shas), col(Attachment.thumb_sha256).in_(shas)))).all():
            named.update({sha, thumb or ""})
    for sha in shas - named:
        store.remove(sha)


def _heal(store: BlobStore, done: list[_Stored]) -> None:
    """Recorded: make sure every blob is there (a refused upload of the same bytes at the same moment may have
    removed one that this upload found already stored)."""
    for s in done:
        if not store.exists(s.file.sha256):
            s.upload.file.seek(0)
            store.put(s.upload.file)
        if s.thumb is not None and not store.exists(s.file.thumb_sha256):
            store.put(io.BytesIO(s.thumb))


async def add_attachments(*, session: Session, desk: Desk, store: BlobStore, incident: Incident, user: User,
                          uploads: list[Upload], limits: Limits,
                          idempotency_key: str | None = None) -> tuple[list[AttachmentFile], bool]:
    """Keep these files as evidence of the incident. Returns (the files, recorded): recorded is False when the
    upload took effect but the database was away (the rows and events are written when it is back)."""
    checked = await asyncio.to_thread(check_uploads, uploads, limits)
    seed = f"{incident.workflow_id}|{user.id}|{idempotency_key}" if idempotency_key else uuid.uuid4().hex
    done = await asyncio.to_thread(_store, store, checked, seed)
    try:
        done = _without_repeats(session, incident, done, retried=bool(idempotency_key))
        files = [s.file for s in done]
        recorded = await act(desk=desk, incident=incident, update=IncidentWorkflow.add_attachments,
                             command=AddAttachments(actor=user.username, files=files), user=user,
                             idempotency_key=idempotency_key)
    except DeskError:  # refused, or Temporal away: nothing was done (anything else may have been: keep the blobs)
        await asyncio.to_thread(_forget, store, session, done)
        raise
    await asyncio.to_thread(_heal, store, done)
    log.info("%d attachment(s) by %s", len(files), user.username, extra={"incident": incident.human_id})
    return files, recorded


def _without_repeats(session: Session, incident: Incident, done: list[_Stored], *, retried: bool) -> list[_Stored]:
    """The same bytes twice in one upload are one file; bytes already kept for this incident (and not withdrawn)
    are refused with the name they were kept under, unless this is a retry of the same upload (same keys)."""
    unique: dict[str, _Stored] = {}
    for s in done:
        unique.setdefault(s.file.sha256, s)
    kept = session.exec(select(Attachment).where(
        Attachment.incident_id == incident.id, col(Attachment.sha256).in_(list(unique)),
        col(Attachment.withdrawn_at).is_(None))).all()
    for row in kept:
        s = unique[row.sha256]
        if retried and row.key == s.file.key:
            continue
        raise Conflict(f"文件“{s.file.name}”已作为证据上传过（“{row.name}”），无需重复上传。",
                       code="attachment.duplicate", params={"name": s.file.name, "kept": row.name}, field="files")
    return list(unique.values())


def attachments_of(*, session: Session, incident: Incident) -> list[Attachment]:
    """Every file of the incident, withdrawn ones too, oldest first."""
    return list(session.exec(select(Attachment).where(Attachment.incident_id == incident.id)
                             .order_by(col(Attachment.created_at), col(Attachment.id))).all())


def attachment_of(*, session: Session, incident: Incident, key: str) -> Attachment:
    row = session.exec(select(Attachment).where(Attachment.incident_id == incident.id,
                                                Attachment.key == key[:32])).first()
    if row is None:
        raise NotFound(f"该事件没有编号为 {key[:32]} 的附件。", code="attachment.not_found", params={"key": key[:32]})
    return row


def may_withdraw(user: User, attachment: Attachment) -> bool:
    return attachment.withdrawn_at is None and (user.role in SUPERVISORS or user.username == attachment.uploaded_by)


async def withdraw_attachment(*, session: Session, desk: Desk, incident: Incident, user: User, key: str, reason: str,
                              idempotency_key: str | None = None) -> tuple[Attachment, bool]:
    """Withdraw a file with a reason (its uploader, or a supervisor). Returns (the attachment, recorded)."""
    row = attachment_of(session=session, incident=incident, key=key)
    if row.withdrawn_at is not None:
        raise Conflict(f"附件“{row.name}”已撤回。", code=refusals.ATTACHMENT_WITHDRAWN, params={"name": row.name})
    if not may_withdraw(user, row):
        raise Forbidden("只有上传者本人或督办人员可以撤回附件。", code="attachment.withdraw_forbidden")
    if not reason.strip():
        raise InvalidInput("请填写撤回理由。", code=refusals.REASON_MISSING, field="reason")
    recorded = await act(desk=desk, incident=incident, update=IncidentWorkflow.withdraw_attachment,
                         command=WithdrawAttachment(actor=user.username, key=row.key, name=row.name, sha256=row.sha256,
                                                    reason=reason.strip()),
                         user=user, idempotency_key=idempotency_key)
    session.refresh(row)
    return row, recorded


def content(store: BlobStore, sha256: str) -> Iterator[bytes]:
    """A kept file's bytes. A blob missing under an attachment is lost evidence: said loudly in the log."""
    try:
        chunks = store.read(sha256)
        first = next(chunks, b"")
    except FileNotFoundError:
        log.error("the blob %s of an attachment is missing from the store", sha256)
        raise NotFound("附件内容缺失，请联系管理员从备份恢复。", code="attachment.blob_missing") from None

    def all_chunks() -> Iterator[bytes]:
        yield first
        yield from chunks

    return all_chunks()
