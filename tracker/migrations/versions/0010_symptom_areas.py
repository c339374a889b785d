"""symptom areas

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:55:00.000000

symptoms.area says where a symptom is felt ('sites': at the injection sites, 'head': head and
face, 'eyes', 'body': whole body); the patient's check-in groups its questions by it. Existing
entries get the default catalogue's area by code; entries a clinic added itself get 'body'.

The column is added NOT NULL with a server default (SQLite's own ALTER TABLE ... ADD COLUMN
allows that), not a batch copy of a table that others reference.
"""
from alembic import op
import sqlalchemy as sa

from tracker.catalogue import BODY, DEFAULT_CATALOGUE


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'symptoms',
        sa.Column('area', sa.String(length=20), server_default=BODY, nullable=False),
    )
    fill = sa.text('UPDATE symptoms SET area = :area WHERE code = :code')
    for default in DEFAULT_CATALOGUE:
        op.execute(fill.bindparams(area=default.area, code=default.code))


def downgrade():
    op.execute('ALTER TABLE symptoms DROP COLUMN area')  # SQLite 3.35+ has DROP COLUMN too
