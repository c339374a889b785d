"""the batch watch's read of spread signs

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 14:40:00.000000

The batch watch (tracker/services/batches/watch.py) starts from the recent reports of the few
catalogue entries marked as spread signs. ix_reports_symptom_time makes that one short range of
an index per entry, instead of a read of every symptom report ever stored.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_reports_symptom_time', 'symptom_reports', ['symptom_id', 'reported_at']
    )


def downgrade():
    op.drop_index('ix_reports_symptom_time', table_name='symptom_reports')
