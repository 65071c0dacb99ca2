"""Duplicates and related incidents (SPEC §9): an incident closed as merged into another names it
(``incident.merged_into``, a human id, indexed: the survivor lists what was merged into it), and two
related incidents are one ``incidentlink`` row.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import desk.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not any(c['name'] == 'merged_into' for c in inspector.get_columns('incident')):
        with op.batch_alter_table('incident', schema=None) as batch_op:
            batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
            batch_op.create_index(batch_op.f('ix_incident_merged_into'), ['merged_into'], unique=False)
    if inspector.has_table('incidentlink'):
        return
    op.create_table('incidentlink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('related_id', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', desk.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incidentlink_incident_id_incident')),
    sa.ForeignKeyConstraint(['related_id'], ['incident.id'], name=op.f('fk_incidentlink_related_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidentlink')),
    sa.UniqueConstraint('incident_id', 'related_id', name=op.f('uq_incidentlink_incident_id'))
    )
    op.create_index('ix_incidentlink_related', 'incidentlink', ['related_id', 'incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incidentlink_related', table_name='incidentlink')
    op.drop_table('incidentlink')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_merged_into'))
        batch_op.drop_column('merged_into')
