"""Where attachment bytes live: content-addressed by their sha256, written once, never changed.

``BlobStore`` is what the attachment service needs; ``FilesystemBlobStore`` keeps blobs under a folder
(``DESK_DATA_DIR/blobs`` on the embedded default, a named volume in compose). An object store (S3, MinIO,
OSS) can follow as another implementation of the same four methods.

A blob is written before its attachment's timeline event, so a crash in between leaves at most a blob that
nothing names (garbage, not lost evidence); a blob named by an attachment is never removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    created: bool  # False: the same bytes were there already


class BlobStore(Protocol):
    def put(self, f: BinaryIO) -> Stored:
        """Store the bytes of ``f`` (read from where it stands to the end) under their sha256."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> Iterator[bytes]:
        """The bytes, in chunks; FileNotFoundError if there is no such blob."""
        ...

    def remove(self, sha256: str) -> None:
        """Only for a blob no attachment names (an upload that was refused after it was stored)."""
        ...


class FilesystemBlobStore:
    """``root/ab/cd/abcd…`` (the full sha256): written to a temporary file beside it, synced, then renamed into
    place, so a reader never sees half a blob and a crash leaves no partial one under its name."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise ValueError(f"not a sha256: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, f: BinaryIO) -> Stored:
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=incoming, prefix=f"{uuid.uuid4().hex}-")
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.exists():
                return Stored(sha, size, created=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o440)  # written once: nobody edits evidence in place
            os.replace(tmp, target)
            tmp = ""
            return Stored(sha, size, created=True)
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> Iterator[bytes]:
        with self.path(sha256).open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


def blob_store(data_dir: Path) -> BlobStore:
    """The desk's store: the filesystem one under the data folder (the only one so far)."""
    return FilesystemBlobStore(Path(data_dir) / "blobs")

