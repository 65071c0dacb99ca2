"""Initial schema: parties, users, incidents, milestones, timeline events, notification attempts.

Revision ID: 0001
Revises: (none, the first)
Create Date: 2026-11-27 07:39:39.619129
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('party',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_party'))
    )
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('human_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('party_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('drill', sa.Boolean(), nullable=False),
    sa.Column('policy_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reporter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('detected_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', desk.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', desk.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_incident_party_code_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident')),
    sa.UniqueConstraint('human_id', name=op.f('uq_incident_human_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_incident_idempotency_key')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_incident_workflow_id'))
    )
    op.create_index('ix_incident_party_detected', 'incident', ['party_code', 'detected_at'], unique=False)
    op.create_index(op.f('ix_incident_status'), 'incident', ['status'], unique=False)
    op.create_index('ix_incident_status_next_due', 'incident', ['status', 'next_due_at'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('party_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_user_party_code_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user'))
    )
    op.create_index(op.f('ix_user_username'), 'user', ['username'], unique=True)

    op.create_table('milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('due_at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('met_at', desk.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waived_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_milestone_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone')),
    sa.UniqueConstraint('incident_id', 'key', name=op.f('uq_milestone_incident_id'))
    )
    op.create_index(op.f('ix_milestone_incident_id'), 'milestone', ['incident_id'], unique=False)

    op.create_table('notificationattempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('tags', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_notificationattempt_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notificationattempt'))
    )
    op.create_index('ix_notification_dedupe', 'notificationattempt', ['dedupe_key', 'channel_id'], unique=False)
    op.create_index(op.f('ix_notificationattempt_incident_id'), 'notificationattempt', ['incident_id'], unique=False)

    op.create_table('timelineevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_timelineevent_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timelineevent')),
    sa.UniqueConstraint('event_key', name=op.f('uq_timelineevent_event_key'))
    )
    op.create_index('ix_timeline_incident_seq', 'timelineevent', ['incident_id', 'seq'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes too; children before parents.
    for table in ("timelineevent", "notificationattempt", "milestone", "user", "incident", "party"):
        op.drop_table(table)
