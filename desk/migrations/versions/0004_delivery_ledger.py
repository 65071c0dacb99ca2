"""Delivery ledger (unique per rung and channel), idempotent attempt log, policy snapshot per incident.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by create_all before migrations (stamped 0001) may have these already.
    present = sa.inspect(op.get_bind())
    if present.has_table('notificationdelivery'):
        return
    op.create_table('notificationdelivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('claimed_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_notificationdelivery_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notificationdelivery')),
    sa.UniqueConstraint('dedupe_key', 'channel_id', name=op.f('uq_notificationdelivery_dedupe_key'))
    )
    op.create_index(op.f('ix_notificationdelivery_incident_id'), 'notificationdelivery', ['incident_id'], unique=False)
    with op.batch_alter_table('notificationattempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_key', sqlmodel.sql.sqltypes.AutoString(length=240), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_notificationattempt_attempt_key'), ['attempt_key'])
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_snapshot', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('policy_snapshot')
    with op.batch_alter_table('notificationattempt', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_notificationattempt_attempt_key'), type_='unique')
        batch_op.drop_column('attempt_key')
    op.drop_index(op.f('ix_notificationdelivery_incident_id'), table_name='notificationdelivery')
    op.drop_table('notificationdelivery')
