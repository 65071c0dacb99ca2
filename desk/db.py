"""The one database engine and session factory, and the parties seed."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from desk import models
from desk.settings import get_settings

_engines: dict[str, Engine] = {}
_PARTY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().resolved_database_url
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _engines[url] = engine
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    with Session(get_engine(url), expire_on_commit=False) as session:
        yield session


def init_db(url: str | None = None) -> None:
    """Create the schema (if missing) and seed the parties."""
    engine = get_engine(url)
    SQLModel.metadata.create_all(engine)
    with session_scope(url) as session:
        seed_parties(session, get_settings().parties)


def read_parties_file(path: Path | None) -> list[dict]:
    if path is None:
        text = resources.files("desk.data").joinpath("parties.toml").read_text(encoding="utf-8")
        source = "built-in parties"
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        rows = tomllib.loads(text).get("parties", [])
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    for i, row in enumerate(rows):
        code = str(row.get("code", ""))
        if not _PARTY_CODE.match(code):
            raise ValueError(f"{source}: parties[{i}].code '{code}' must match [a-z0-9][a-z0-9_-]*")
        if not str(row.get("name", "")).strip():
            raise ValueError(f"{source}: parties[{i}].name is empty")
    return rows


def seed_parties(session: Session, path: Path | None = None) -> int:
    """Insert parties that are missing; existing ones (maybe edited by an admin) are left alone."""
    return import_parties(session, path, update=False)[0]


def import_parties(session: Session, path: Path | None, *, update: bool = True) -> tuple[int, int]:
    """Add parties from a file; with ``update``, also rename existing ones. Returns (added, updated)."""
    existing = {p.code: p for p in session.exec(select(models.Party)).all()}
    added = updated = 0
    for row in read_parties_file(path):
        kind = row.get("kind", "department")
        party = existing.get(row["code"])
        if party is None:
            session.add(models.Party(code=row["code"], name=row["name"], kind=kind))
            added += 1
        elif update and (party.name, party.kind) != (row["name"], kind):
            party.name, party.kind = row["name"], kind
            session.add(party)
            updated += 1
    session.commit()
    return added, updated


def dispose_engine(url: str) -> None:
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
