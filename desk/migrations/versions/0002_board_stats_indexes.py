"""Indexes for the supervisor board and the assessment statistics (bench: python -m bench board).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_incident_party_period", "incident", ["party_code", "detected_at", "drill", "level"]),
    ("ix_milestone_outcome", "milestone", ["incident_id", "key", "state", "due_at", "met_at"]),
    ("ix_milestone_met_at", "milestone", ["met_at"]),
    ("ix_milestone_state", "milestone", ["state", "incident_id"]),
    ("ix_timeline_incident_kind", "timelineevent", ["incident_id", "kind", "at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        # if_not_exists: a database made by create_all before migrations (stamped 0001) may have them already.
        op.create_index(name, table, columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
