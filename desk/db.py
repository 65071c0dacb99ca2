"""The one database engine and session factory, the schema (Alembic migrations), and the parties seed."""

from __future__ import annotations

import fcntl
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine, select

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
    """Bring the schema up to date (Alembic, in every environment) and seed the parties.

    Safe to run from several processes at once (web replicas and workers starting together):
    they take turns on a lock, and the later ones find nothing left to do.
    """
    url = url or get_settings().resolved_database_url
    with _schema_lock(url):
        _migrate(url, "head")
        with session_scope(url) as session:
            seed_parties(session, get_settings().parties)


def downgrade_db(url: str | None = None, revision: str = "-1") -> None:
    url = url or get_settings().resolved_database_url
    with _schema_lock(url):
        _migrate(url, revision, down=True)


INITIAL_REVISION = "0001"


def alembic_config(url: str) -> Config:
    """Alembic's configuration without an alembic.ini: the scripts ship inside the desk package."""
    config = Config()
    config.set_main_option("script_location", "desk:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
            return
        tables = inspect(connection)
        if tables.has_table("incident") and not tables.has_table("alembic_version"):
            # A database made by create_all before migrations existed: it has the initial schema.
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, revision)


@contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtext('opinion-desk schema'))"))
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext('opinion-desk schema'))"))
                connection.commit()
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.schema-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


def import_parties(session: Session, path: Path | None, *, update: bool = True, commit: bool = True) -> tuple[int, int]:
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
    if commit:
        session.commit()
    return added, updated


def dispose_engine(url: str) -> None:
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
