"""Supporting parties (配合单位, each with its own acknowledgement clock) and tasks (督办事项), SPEC §9.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTC = desk.models.UTCDateTime


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    if not present.has_table('supporting_party'):
        op.create_table('supporting_party',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('party_code', AutoString(length=64), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('added_at', UTC(timezone=True), nullable=False),
        sa.Column('added_by', AutoString(length=64), nullable=False),
        sa.Column('ack_due_at', UTC(timezone=True), nullable=True),
        sa.Column('ack_state', AutoString(length=16), nullable=True),
        sa.Column('ack_met_at', UTC(timezone=True), nullable=True),
        sa.Column('ack_waived_reason', AutoString(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_supporting_party_incident_id_incident')),
        sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_supporting_party_party_code_party')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supporting_party')),
        sa.UniqueConstraint('incident_id', 'party_code', name=op.f('uq_supporting_party_incident_id')),
        )
        op.create_index('ix_supporting_party_party', 'supporting_party', ['party_code', 'incident_id'], unique=False)
    if not present.has_table('incident_task'):
        op.create_table('incident_task',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('party_code', AutoString(length=64), nullable=False),
        sa.Column('text', AutoString(length=5000), nullable=False),
        sa.Column('due_at', UTC(timezone=True), nullable=False),
        sa.Column('needs_attachment', sa.Boolean(), nullable=False),
        sa.Column('state', AutoString(length=16), nullable=False),
        sa.Column('assigned_by', AutoString(length=64), nullable=False),
        sa.Column('assigned_at', UTC(timezone=True), nullable=False),
        sa.Column('met_at', UTC(timezone=True), nullable=True),
        sa.Column('done_by', AutoString(length=64), nullable=False),
        sa.Column('note', AutoString(length=5000), nullable=False),
        sa.Column('attachment_sha256', AutoString(length=64), nullable=False),
        sa.Column('waived_reason', AutoString(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_task_incident_id_incident')),
        sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_incident_task_party_code_party')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_task')),
        sa.UniqueConstraint('incident_id', 'n', name=op.f('uq_incident_task_incident_id')),
        )
        op.create_index('ix_incident_task_party_state', 'incident_task', ['party_code', 'state', 'due_at'],
                        unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_task_party_state', table_name='incident_task')
    op.drop_table('incident_task')
    op.drop_index('ix_supporting_party_party', table_name='supporting_party')
    op.drop_table('supporting_party')
