"""when each treatment is next due for the sweep

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:20:00.000000

treatments.followup_due_at is when the sweep must next judge the treatment (NULL: never, as far
as its check-ins and flags go): kept by the check-in service, flag resolutions and catalogue
edits, rebuilt by `flask tracker rebuild-state` (tracker/services/flags/flagging.py). Existing
treatments are due at once, so the first sweep after the upgrade judges each of them one last
time in full and stores the exact time from then on.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('treatments', sa.Column('followup_due_at', sa.DateTime(timezone=True)))
    op.execute('UPDATE treatments SET followup_due_at = treated_at')
    op.create_index('ix_treatments_followup_due', 'treatments', ['followup_due_at'])


def downgrade():
    op.drop_index('ix_treatments_followup_due', table_name='treatments')
    op.execute('ALTER TABLE treatments DROP COLUMN followup_due_at')  # SQLite 3.35+ too
