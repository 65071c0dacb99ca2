"""The schema comes from Alembic migrations, on SQLite and on PostgreSQL (DESK_TEST_DATABASE=postgresql).

Up from an empty database, down one revision, up again; the migrated schema is exactly what the
models describe (so a model change without a migration fails here); `opinion-desk db upgrade`
and `db downgrade` do the same from the command line.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from desk.db import alembic_config, downgrade_db, get_engine, init_db, session_scope
from desk.models import Incident, Party
from desk.search import is_search_table
from tests.helpers import ROOT

DESK_TABLES = {"party", "user", "incident", "milestone", "timelineevent", "notificationattempt",
               "notificationdelivery", "attachment", "notificationchannel", "auditentry", "dutyshift", "handover",
               "reportrun"}


def _tables(url: str) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(inspect(conn).get_table_names())


def _current(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_upgrade_from_empty_creates_the_schema_and_seeds_parties(database_url):
    assert not _tables(database_url) & DESK_TABLES

    init_db(database_url)

    assert DESK_TABLES <= _tables(database_url)
    assert _current(database_url) == _head(database_url)
    with session_scope(database_url) as session:
        codes = set(session.exec(select(Party.code)).all())
    assert {"bazhou", "enyang"} <= codes


def _not_search_table(name, type_, _parents) -> bool:
    return not (type_ == "table" and is_search_table(name))  # made by hand in 0007 (FTS5 / pg_trgm)


def test_migrated_schema_matches_the_models(database_url):
    init_db(database_url)
    with get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                          "include_name": _not_search_table})
        diffs = compare_metadata(context, SQLModel.metadata)
    assert diffs == [], f"the models differ from the migrations; add a revision: {diffs}"


def test_downgrade_one_then_upgrade_again(database_url):
    init_db(database_url)
    head = _head(database_url)
    down_to = ScriptDirectory.from_config(alembic_config(database_url)).get_revision(head).down_revision

    downgrade_db(database_url, "-1")

    assert _current(database_url) == down_to
    if down_to is None:  # the first revision: nothing of the desk is left
        assert not _tables(database_url) & DESK_TABLES
    init_db(database_url)
    assert _current(database_url) == head
    assert DESK_TABLES <= _tables(database_url)


def test_upgrade_is_idempotent_and_keeps_data(database_url):
    init_db(database_url)
    with session_scope(database_url) as session:
        party = session.get(Party, "bazhou")
        party.name = "巴州区人民政府（改）"
        session.add(party)
        session.commit()

    init_db(database_url)

    with session_scope(database_url) as session:
        assert session.get(Party, "bazhou").name == "巴州区人民政府（改）"


def test_a_database_made_before_migrations_is_adopted(database_url):
    """A desk that ran with create_all (before migrations existed) keeps its data and gets versioned."""
    SQLModel.metadata.create_all(get_engine(database_url))
    with session_scope(database_url) as session:
        session.add(Party(code="legacy", name="旧单位"))
        session.commit()

    init_db(database_url)

    assert _current(database_url) == _head(database_url)
    with session_scope(database_url) as session:
        assert session.get(Party, "legacy") is not None
        assert session.exec(select(Incident)).all() == []


def test_cli_db_upgrade_and_downgrade(database_url, tmp_path):
    # PYTHONPATH: the migrations of this checkout, whichever copy of the desk the venv has installed.
    env = {"DESK_DATABASE_URL": database_url, "DESK_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "desk.cli", "db"]

    up = subprocess.run([*run, "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert _current(database_url) == _head(database_url)

    down = subprocess.run([*run, "downgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert _current(database_url) != _head(database_url)
    assert "downgraded" in down.stdout



def test_processes_starting_together_migrate_once(database_url):
    """Web replicas and workers all run the migrations at start: on an empty database at the same moment,
    they take turns (one migrates, the others find it done) instead of colliding."""
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def starting_process() -> None:
        start.wait()
        try:
            init_db(database_url)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=starting_process) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert _current(database_url) == _head(database_url)
    with session_scope(database_url) as session:
        codes = session.exec(select(Party.code)).all()
    assert len(codes) == len(set(codes)) and "bazhou" in codes


def test_the_database_refuses_to_change_or_delete_an_audit_entry(database_url):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    from desk import audit

    init_db(database_url)
    with session_scope(database_url) as session:
        audit.record(session, actor="admin", action="user.added", target="duty")
        session.commit()
    for statement in ("UPDATE auditentry SET actor = 'someone-else'", "DELETE FROM auditentry"):
        with get_engine(database_url).connect() as conn:
            try:
                conn.execute(text(statement))
                conn.commit()
            except DatabaseError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"the database allowed: {statement}")
    with session_scope(database_url) as session:
        assert [(e.actor, e.action) for e in audit.entries(session)] == [("admin", "user.added")]
