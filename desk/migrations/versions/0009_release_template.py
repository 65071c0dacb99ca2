"""Release templates per category (事实 · 措施 · 结果/进展), edited by an admin and offered by the release form.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import desk.models

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table('release_template'):
        return
    op.create_table(
        'release_template',
        sa.Column('category', sa.String(length=32), primary_key=True),
        sa.Column('facts', sa.String(length=2000), nullable=False),
        sa.Column('measures', sa.String(length=2000), nullable=False),
        sa.Column('progress', sa.String(length=2000), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('release_template')
