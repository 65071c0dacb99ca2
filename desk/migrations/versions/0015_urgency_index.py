"""The incidents with a deadline, in deadline order: a partial index on next_due_at (only the incidents that
have one), so the list and search read the few with an open deadline in order instead of sorting every match
(desk/search.py, urgent_first).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not any(i['name'] == 'ix_incident_next_due' for i in sa.inspect(op.get_bind()).get_indexes('incident')):
        op.create_index('ix_incident_next_due', 'incident', ['next_due_at'], unique=False,
                        sqlite_where=sa.text('next_due_at IS NOT NULL'),
                        postgresql_where=sa.text('next_due_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_incident_next_due', table_name='incident')
