"""Alembic environment: the desk's SQLModel metadata, and the URL from desk.settings (or the caller).

`desk.db.migrate` hands over an open connection; the `alembic` command line (with
`-x url=...`, or DESK_DATABASE_URL) gets an engine of its own.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from desk import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from desk.search import is_search_table

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from desk.settings import get_settings

    return get_settings().resolved_database_url


def include_name(name, type_, _parents) -> bool:
    """The search tables are made by hand (0007: FTS5 / pg_trgm), not from the models."""
    return not (type_ == "table" and is_search_table(name))


def _configure(**kwargs) -> None:
    url = kwargs.get("url") or str(kwargs["connection"].engine.url)
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
        compare_server_default=True,
        include_name=include_name,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from desk.db import get_engine

    with get_engine(_url()).connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
