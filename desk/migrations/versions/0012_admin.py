"""The admin pages: notification channels kept in the database, and the append-only audit log.

The audit log refuses UPDATE and DELETE in the database itself (a trigger on SQLite and on PostgreSQL), so
not even a stray script edits the record of who logged in and who changed what.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "the audit log is append-only: its rows are never changed or deleted"


def upgrade() -> None:
    present = sa.inspect(op.get_bind())  # a database made by create_all (stamped 0001) has the tables already
    if not present.has_table('notificationchannel'):
        op.create_table('notificationchannel',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('party_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('masked', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['party_code'], ['party.code'], name=op.f('fk_notificationchannel_party_code_party')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notificationchannel_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notificationchannel'))
        )
        op.create_index(op.f('ix_notificationchannel_party_code'), 'notificationchannel', ['party_code'], unique=False)
        op.create_index(op.f('ix_notificationchannel_user_id'), 'notificationchannel', ['user_id'], unique=False)
    if not present.has_table('auditentry'):
        op.create_table('auditentry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', desk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auditentry'))
        )
        op.create_index('ix_auditentry_at', 'auditentry', ['at'], unique=False)
        op.create_index('ix_auditentry_action_at', 'auditentry', ['action', 'at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE OR REPLACE FUNCTION auditentry_append_only() RETURNS trigger AS $$
                       BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$ LANGUAGE plpgsql""")
        op.execute("DROP TRIGGER IF EXISTS auditentry_append_only ON auditentry")
        op.execute("CREATE TRIGGER auditentry_append_only BEFORE UPDATE OR DELETE ON auditentry "
                   "FOR EACH ROW EXECUTE FUNCTION auditentry_append_only()")
        op.execute("DROP TRIGGER IF EXISTS auditentry_no_truncate ON auditentry")
        op.execute("CREATE TRIGGER auditentry_no_truncate BEFORE TRUNCATE ON auditentry "
                   "FOR EACH STATEMENT EXECUTE FUNCTION auditentry_append_only()")
    else:
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER IF NOT EXISTS auditentry_no_{event.lower()} BEFORE {event} ON auditentry "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    op.drop_table('auditentry')  # its triggers go with it
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS auditentry_append_only()")
    op.drop_index(op.f('ix_notificationchannel_user_id'), table_name='notificationchannel')
    op.drop_index(op.f('ix_notificationchannel_party_code'), table_name='notificationchannel')
    op.drop_table('notificationchannel')
