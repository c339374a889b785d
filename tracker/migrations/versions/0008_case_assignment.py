"""case assignment

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:00:00.000000

A case (a treatment with open or acknowledged flags) can be assigned to one clinician of the
clinic: treatments.assigned_to_id, cleared when the case is fully resolved.

The column is added with SQLite's own ALTER TABLE ... ADD COLUMN (a REFERENCES clause is
allowed there for a nullable column), not a batch copy of a table that others reference.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE treatments ADD COLUMN assigned_to_id INTEGER REFERENCES users (id)')
    else:
        op.add_column(
            'treatments',
            sa.Column('assigned_to_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        )


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('treatments', schema=None) as batch_op:
            batch_op.drop_column('assigned_to_id')
    else:
        op.drop_column('treatments', 'assigned_to_id')
