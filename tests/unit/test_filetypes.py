"""An attachment's type comes from its bytes: what a name or a browser claims is never believed, and what a browser
could run (programs, HTML, SVG) or hide (archives) is refused."""

from __future__ import annotations

import io
import zipfile

import pytest

from desk.attachments import clean_name
from desk.filetypes import ARCHIVE, EXECUTABLE, MARKUP, UNKNOWN, sniff
from tests.helpers import png


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
KEPT = [
    ("截图.png", png(20, 20), "image/png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    ("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
    ("发布会.mp4", b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
    ("通报.pdf", b"%PDF-1.7\n", "application/pdf"),
    ("通报.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("旧文件.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/x-ole-storage"),
    ("记录.txt", "发布会记录：某小区燃气泄漏。\n".encode(), "text/plain"),
    ("记录-gbk.txt", "发布会记录：某小区燃气泄漏。\n".encode("gb18030"), "text/plain"),
    ("post.pdf.png", b"%PDF-1.4\n", "application/pdf"),  # named an image, is a PDF: the bytes decide
]
REFUSED = [
    ("photo.jpg", b"MZ\x90\x00\x03\x00", EXECUTABLE),
    ("run.sh", b"#!/bin/sh\nrm -rf /\n", EXECUTABLE),
    ("app", b"\x7fELF\x02\x01\x01", EXECUTABLE),
    ("setup.msi", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, EXECUTABLE),
    ("tool.jar", _zip({"META-INF/MANIFEST.MF": b"x", "a/Main.class": b"\xca\xfe"}), EXECUTABLE),
    ("post.txt", b"  <!DOCTYPE html><p>hi</p>", MARKUP),
    ("logo.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', MARKUP),
    ("note.txt", "说明\n<script>alert(1)</script>".encode(), MARKUP),
    ("photos.zip", _zip({"a.png": b"x"}), ARCHIVE),
    ("data.bin", bytes(range(256)), UNKNOWN),
]


@pytest.mark.parametrize(("name", "data", "kind"), KEPT, ids=[k[0] for k in KEPT])
def test_kept_types_are_read_from_the_bytes(name, data, kind):
    assert sniff(io.BytesIO(data), name).content_type == kind


@pytest.mark.parametrize(("name", "data", "why"), REFUSED, ids=[r[0] for r in REFUSED])
def test_programs_markup_and_archives_are_refused(name, data, why):
    sniffed = sniff(io.BytesIO(data), name)
    assert (sniffed.content_type, sniffed.refused) == (None, why)


def test_only_raster_images_are_shown_inline():
    assert sniff(io.BytesIO(png(5, 5))).inline
    assert not sniff(io.BytesIO(b"%PDF-1.7\n")).inline


def test_an_uploaded_name_loses_its_folders_and_control_characters():
    assert clean_name("C:\\Users\\张三\\Desktop\\截图.png") == "截图.png"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("a\u202etxt.exe") == "atxt.exe"  # no right-to-left override to disguise the extension
    assert clean_name("") == "file"
    long = clean_name("长" * 300 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")
