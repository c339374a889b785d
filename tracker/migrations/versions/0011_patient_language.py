"""patient language

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 23:20:00.000000

patients.language is the language of a patient's pages and emails: 'en' (English) or 'cy'
(Welsh), set by the clinic and switchable by the patient. Existing patients get English, which
is what they have been reading.

The column is added NOT NULL with a server default and its check in one ALTER TABLE ... ADD
COLUMN, which SQLite and PostgreSQL both take: no batch copy of a table that others reference.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LANGUAGES = ('en', 'cy')  # tracker.catalogue.LANGUAGES when this migration was written


def upgrade():
    op.execute(
        "ALTER TABLE patients ADD COLUMN language VARCHAR(8) DEFAULT 'en' NOT NULL"
        f" CONSTRAINT language_known CHECK (language IN {LANGUAGES})"
    )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('language_known', 'patients', type_='check')
    op.execute('ALTER TABLE patients DROP COLUMN language')
