"""the batch watch's reads: recent spread signs, recent urgent and severe flags

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:40:00.000000

The batch watch (tracker/services/batches/watch.py) starts from the recent reports of the few
catalogue entries marked as spread signs, and from the recent urgent and severe flags.
ix_reports_symptom_time and ix_flags_reason_opened make each a short range of an index, instead
of a read of every symptom report or every treatment in the lookback.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_reports_symptom_time', 'symptom_reports', ['symptom_id', 'reported_at']
    )
    op.create_index(
        'ix_flags_reason_opened', 'flags', ['reason', 'opened_at', 'treatment_id']
    )


def downgrade():
    op.drop_index('ix_flags_reason_opened', table_name='flags')
    op.drop_index('ix_reports_symptom_time', table_name='symptom_reports')
