"""What kind of file an attachment is, read from its bytes (the name and the browser's word are not trusted).

An allowlist: the evidence a desk keeps (screenshots and photos, PDF and office documents, plain text, audio and
video from a phone). Everything else is refused, executables, HTML and SVG (script in a page of the desk's own
origin) by name. Only raster images are ever shown in the browser; every other type is served as a download.
Standard library only: the core layer.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import BinaryIO

HEAD = 4096  # bytes read to decide (the zip check reads the central directory itself)

# What a refused file is, said to the person (desk.attachments turns it into a sentence).
EXECUTABLE, MARKUP, ARCHIVE, UNKNOWN = "executable", "markup", "archive", "unknown"

# Raster images a browser shows safely inline, and Pillow thumbnails.
INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
THUMBNAILED = INLINE | {"image/bmp"}


@dataclass(frozen=True)
class Sniffed:
    content_type: str | None  # None: refused
    refused: str = ""  # EXECUTABLE | MARKUP | ARCHIVE | UNKNOWN when refused

    @property
    def inline(self) -> bool:
        return self.content_type in INLINE


_MAGIC: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"%PDF-", "application/pdf"),
    (b"#!AMR", "audio/amr"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
]
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
               b"\xca\xfe\xba\xbe", b"#!", b"\x00asm", b"dex\n")
_MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<iframe", b"<!--", b"<div",
           b"<a ", b"<img", b"<meta", b"<style", b"<title", b"<object", b"<embed", b"<table", b"<p>", b"<p ")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word/Excel/WPS 97-2003; also Windows installers (refused by name)
_INSTALLERS = (".msi", ".msp", ".mst")
_BRANDS = {  # ISO base media (the ftyp box): phones' videos, audio recordings, HEIC photos
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"heim": "image/heic", b"heis": "image/heic",
    b"mif1": "image/heif", b"msf1": "image/heif", b"avif": "image/avif",
    b"qt  ": "video/quicktime", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"M4V ": "video/mp4",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3gp6": "video/3gpp", b"3g2a": "video/3gpp2",
}
_OFFICE = {  # a zip whose parts say what it is
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation")


def sniff(f: BinaryIO, name: str = "") -> Sniffed:
    """The file's type from its bytes; ``f`` is seekable and read from the start. ``name`` only adds refusals."""
    f.seek(0)
    head = f.read(HEAD)
    f.seek(0)
    if head.startswith(_EXECUTABLE):
        return Sniffed(None, EXECUTABLE)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return Sniffed(kind)
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return Sniffed({b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[head[8:12]])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return Sniffed(_BRANDS.get(brand, "video/mp4"))
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:  # an MPEG audio frame
        return Sniffed("audio/mpeg")
    if head.startswith(_OLE):
        if name.lower().endswith(_INSTALLERS):
            return Sniffed(None, EXECUTABLE)
        return Sniffed("application/x-ole-storage")
    if head.startswith(b"PK\x03\x04"):
        return _zip(f)
    return _text(head)


def _zip(f: BinaryIO) -> Sniffed:
    """Office Open XML and OpenDocument files are zips; any other zip (an archive, an app, a Java jar) is not taken."""
    try:
        with zipfile.ZipFile(f) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                mimetype = z.read("mimetype").decode("ascii", "replace").strip()
                if mimetype in _ODF:
                    return Sniffed(mimetype)
            for part, kind in _OFFICE.items():
                if part in names and "[Content_Types].xml" in names:
                    return Sniffed(kind)
            if any(n.endswith((".exe", ".dll", ".class", ".dex", ".so")) for n in names):
                return Sniffed(None, EXECUTABLE)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return Sniffed(None, UNKNOWN)
    finally:
        f.seek(0)
    return Sniffed(None, ARCHIVE)


def _text(head: bytes) -> Sniffed:
    """Plain text (UTF-8, GB18030 or UTF-16 with its BOM) that is not markup a browser would run."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "ignore")
    else:
        if b"\x00" in head:
            return Sniffed(None, UNKNOWN)
        text = ""
        for encoding in ("utf-8", "gb18030"):
            try:
                # the head may end inside a character: ignore a broken tail only
                text = head.decode(encoding) if len(head) < HEAD else head[:-4].decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            return Sniffed(None, UNKNOWN)
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode("utf-8", "ignore")
    if lowered.startswith(_MARKUP) or any(tag in lowered for tag in (b"<script", b"<svg", b"<html", b"<iframe")):
        return Sniffed(None, MARKUP)
    if any(ord(c) < 9 or 13 < ord(c) < 32 for c in text if c != "\x1b"):
        return Sniffed(None, UNKNOWN)
    return Sniffed("text/plain")
