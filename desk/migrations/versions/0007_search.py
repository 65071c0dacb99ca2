"""Full-text search for Chinese: one search document per incident (title, summary, notes, release summaries).

SQLite: an FTS5 table with the trigram tokenizer, keyed by the incident's rowid. PostgreSQL: pg_trgm (a
trusted extension: the database's owner may create it) and a GIN trigram index over the document. Both
are filled here from what the database already holds; desk/search.py keeps them current.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTES = "'note'"
RELEASES = "'released', 'press_conference', 'update'"


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table('incident_search'):
        return
    if bind.dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE incident_search USING fts5(title, summary, notes, releases, "
                   "tokenize='trigram')")
        op.execute(f"""
            INSERT INTO incident_search (rowid, title, summary, notes, releases)
            SELECT i.id, i.title, i.summary,
                   coalesce((SELECT group_concat(json_extract(e.payload, '$.text'), char(10)) FROM timelineevent e
                             WHERE e.incident_id = i.id AND e.kind IN ({NOTES})), ''),
                   coalesce((SELECT group_concat(json_extract(e.payload, '$.summary'), char(10)) FROM timelineevent e
                             WHERE e.incident_id = i.id AND e.kind IN ({RELEASES})), '')
            FROM incident i""")
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE TABLE incident_search (incident_id INTEGER PRIMARY KEY, document TEXT NOT NULL)")
    op.execute(f"""
        INSERT INTO incident_search (incident_id, document)
        SELECT i.id, concat_ws(chr(10), i.title, i.summary,
               coalesce((SELECT string_agg(e.payload ->> 'text', chr(10) ORDER BY e.seq) FROM timelineevent e
                         WHERE e.incident_id = i.id AND e.kind IN ({NOTES})), ''),
               coalesce((SELECT string_agg(e.payload ->> 'summary', chr(10) ORDER BY e.seq) FROM timelineevent e
                         WHERE e.incident_id = i.id AND e.kind IN ({RELEASES})), ''))
        FROM incident i""")
    op.execute("CREATE INDEX ix_incident_search_trgm ON incident_search USING gin (document gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS incident_search")
