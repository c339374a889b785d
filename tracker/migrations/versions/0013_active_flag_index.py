"""an index of the active flags for the case queue

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 06:00:00.000000

A partial index over the flags that are not resolved (open or acknowledged), so that its size
follows the active flags, not the history: ix_flags_active_cases (clinic_id, treatment_id,
reason, status, opened_at). The case queue groups a clinic's active flags by treatment (most
urgent reason, oldest opening, whether any is open) reading this index alone, in treatment
order, and a case's rows are found by treatment.

Partial indexes exist on SQLite and PostgreSQL with the same WHERE clause.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
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


def downgrade():
    op.drop_index('ix_flags_active_cases', table_name='flags')
