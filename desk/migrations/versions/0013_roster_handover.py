"""Duty roster (值班表) and shift handover (交接班): a person's own notify URL, the shifts, the handovers; the
delivery ledger also guards a handover's escalation (no incident: incident_id may be empty).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    with op.batch_alter_table('notificationdelivery', schema=None) as batch_op:
        batch_op.alter_column('incident_id', existing_type=sa.Integer(), nullable=True)
    if not present.has_table('dutyshift'):
        op.create_table('dutyshift',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('party_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_dutyshift_party_code_party')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_dutyshift_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dutyshift'))
        )
        op.create_index('ix_dutyshift_party_time', 'dutyshift', ['party_code', 'starts_at', 'ends_at'], unique=False)
        op.create_index('ix_dutyshift_user_time', 'dutyshift', ['user_id', 'starts_at'], unique=False)
    if not present.has_table('handover'):
        op.create_table('handover',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('outgoing', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('incoming', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('shift_start', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('shift_end', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('handed_over_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('confirm_due_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('remarks', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('note', sa.JSON(), nullable=False),
        sa.Column('confirmed_at', desk.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('escalated_at', desk.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('escalation', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handover')),
        sa.UniqueConstraint('workflow_id', name=op.f('uq_handover_workflow_id'))
        )
        op.create_index('ix_handover_incoming_status', 'handover', ['incoming', 'status'], unique=False)
        op.create_index('ix_handover_handed_over_at', 'handover', ['handed_over_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_handover_handed_over_at', table_name='handover')
    op.drop_index('ix_handover_incoming_status', table_name='handover')
    op.drop_table('handover')
    op.drop_index('ix_dutyshift_user_time', table_name='dutyshift')
    op.drop_index('ix_dutyshift_party_time', table_name='dutyshift')
    op.drop_table('dutyshift')
    op.execute("DELETE FROM notificationdelivery WHERE incident_id IS NULL")
    with op.batch_alter_table('notificationdelivery', schema=None) as batch_op:
        batch_op.alter_column('incident_id', existing_type=sa.Integer(), nullable=False)
