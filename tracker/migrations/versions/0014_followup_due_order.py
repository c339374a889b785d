"""the due index in the sweep's order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:30:00.000000

The sweep reads the treatments that are due in batches ordered by (followup_due_at, id), each
batch starting after the last one's end. ix_treatments_followup_due gains the id, so that both
engines read each batch as one range of the index, in order, whatever the size of the table:
ordered by id alone, a run with little due read the whole table by its primary key.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_treatments_followup_due', table_name='treatments')
    op.create_index('ix_treatments_followup_due', 'treatments', ['followup_due_at', 'id'])


def downgrade():
    op.drop_index('ix_treatments_followup_due', table_name='treatments')
    op.create_index('ix_treatments_followup_due', 'treatments', ['followup_due_at'])
