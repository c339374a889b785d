"""indexes of the active flags for the case queue

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-03 06:00:00.000000

Two partial indexes over the flags that are not resolved (open or acknowledged), so that their
size follows the active flags, not the history:

- ix_flags_active_cases (clinic_id, treatment_id, reason, status, opened_at): the case queue
  groups a clinic's active flags by treatment (most urgent reason, oldest opening, whether any
  is open) reading this index alone, in treatment order;
- ix_flags_active_opened (clinic_id, opened_at, id): a clinic's active flags oldest first (the
  flag list, and the queue benchmark's baseline query).

Partial indexes exist on SQLite and PostgreSQL with the same WHERE clause.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None

NOT_RESOLVED = sa.text("status <> 'resolved'")


def upgrade():
    op.create_index(
        'ix_flags_active_cases',
        'flags',
        ['clinic_id', 'treatment_id', 'reason', 'status', 'opened_at'],
        sqlite_where=NOT_RESOLVED,
        postgresql_where=NOT_RESOLVED,
    )
    op.create_index(
        'ix_flags_active_opened',
        'flags',
        ['clinic_id', 'opened_at', 'id'],
        sqlite_where=NOT_RESOLVED,
        postgresql_where=NOT_RESOLVED,
    )


def downgrade():
    op.drop_index('ix_flags_active_opened', table_name='flags')
    op.drop_index('ix_flags_active_cases', table_name='flags')
