"""The delivery ledger remembers which try of a message holds a claim (``attempt``), so that the same try
asked again (its workflow task retried while it was posting, or its activity retried) waits for the claim it
already holds instead of counting it as a rival's (activities/notify.py). Rows from before have none.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not any(c['name'] == 'attempt' for c in sa.inspect(op.get_bind()).get_columns('notificationdelivery')):
        with op.batch_alter_table('notificationdelivery') as batch:
            batch.add_column(sa.Column('attempt', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notificationdelivery') as batch:
        batch.drop_column('attempt')
