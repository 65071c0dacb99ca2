"""Index for the assessment: a period's incidents of all parties, index-only (count per month, stamp).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = ("ix_incident_detected_version", "incident", ["detected_at", "drill", "party_code", "version", "id"])


def upgrade() -> None:
    name, table, columns = INDEX
    op.create_index(name, table, columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    name, table, _columns = INDEX
    op.drop_index(name, table_name=table, if_exists=True)
