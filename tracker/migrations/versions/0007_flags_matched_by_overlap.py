"""flags matched to episodes by overlap, not by exact start

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:20:00.000000

uq_flags_episode allowed one flag per (treatment, symptom, reason, episode start) ever, so a
resolved flag could not be raised again for the same start. It was wrong both ways: a late
check-in that moves an episode's start earlier slipped past it (a resolved bruise flag opened
again as new), and an urgent symptom reported again after its flag was resolved could never
open a new flag for the same episode. Matching is now by overlap in time, in the rules
(rules.unflagged); the database keeps uq_flags_open, one open or acknowledged flag per
(treatment, symptom, reason), which is what stops two writers opening the same flag at once.

Downgrading recreates uq_flags_episode, which fails once a treatment has two flags for one
episode start (a repeat urgent report): those are real flags and are not deleted for it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('uq_flags_episode', table_name='flags')


def downgrade():
    op.create_index(
        'uq_flags_episode',
        'flags',
        ['treatment_id', sa.text('coalesce(symptom_id, 0)'), 'reason', 'episode_started_at'],
        unique=True,
    )
