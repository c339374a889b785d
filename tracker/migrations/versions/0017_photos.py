"""photos

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:05:00.000000

photos holds the photos patients add to check-ins, re-encoded without metadata, with a
thumbnail each (tracker/models/photo.py), in the database so backups, the JSON export and
erasure cover them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('checkin_id', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('byte_size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("content_type = 'image/jpeg'", name='photo_type_known'),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id']),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id']),
        sa.ForeignKeyConstraint(['checkin_id'], ['checkins.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_photos_checkin', 'photos', ['checkin_id', 'id'])
    op.create_index('ix_photos_treatment', 'photos', ['treatment_id', 'id'])


def downgrade():
    op.drop_index('ix_photos_treatment', table_name='photos')
    op.drop_index('ix_photos_checkin', table_name='photos')
    op.drop_table('photos')
