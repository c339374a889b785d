"""patient sessions on the server

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00.000000

A patient's session was a signed cookie, all of a patient's ended at once by bumping
patients.session_epoch. Each is now a row (the cookie holds a random token, the row its hash),
so one browser's session can end on its own (sign-out, idle time-out, a newer link) and the
clinic's revocation ends the rows. The epoch goes: no code reads it any more. Cookies issued
before this migration hold no token, so those patients open their latest link again.

Dropping a column uses SQLite's own ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch
copy of the table, which other tables reference.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('patient_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('patient_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_sessions_patient_id'), ['patient_id'], unique=False)

    op.drop_column('patients', 'session_epoch')


def downgrade():
    op.add_column(
        'patients',
        sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='1'),
    )
    with op.batch_alter_table('patient_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_sessions_patient_id'))

    op.drop_table('patient_sessions')
