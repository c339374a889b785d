"""symptom translations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:40:00.000000

symptom_translations holds a catalogue entry's patient-facing text (name, what to expect,
advice) in another language than English, per clinic like the entry itself: one row per
(symptom, language), 'cy' (Welsh) for now.

Existing entries get the default catalogue's Welsh only where their English is still exactly the
default's (name, what to expect and advice): a clinic that rewrote an entry must not show Welsh
patients a translation of advice it no longer gives, so those entries stay untranslated and fall
back to English until an admin adds the Welsh. The texts are read from tracker.catalogue, whose
English and Welsh always change together, so an entry matching the English there matches the
Welsh beside it.
"""
from dataclasses import asdict

from alembic import op
import sqlalchemy as sa

from tracker.catalogue import DEFAULT_CATALOGUE, DEFAULT_TRANSLATIONS, english_text


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('symptom_translations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('symptom_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('expected_text', sa.Text(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=False),
    sa.Column('outdated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("language IN ('cy')", name='language_translated'),
    sa.ForeignKeyConstraint(['symptom_id'], ['symptoms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('symptom_id', 'language')
    )
    fill = sa.text(
        'INSERT INTO symptom_translations '
        '(symptom_id, language, name, expected_text, advice, outdated, updated_at) '
        'SELECT id, :language, :name, :expected_text, :advice, :no, CURRENT_TIMESTAMP '
        'FROM symptoms WHERE code = :code '
        'AND name = :en_name AND expected_text = :en_expected_text AND advice = :en_advice'
    ).bindparams(sa.bindparam('no', False, type_=sa.Boolean()))
    for language, texts in DEFAULT_TRANSLATIONS.items():
        for default in DEFAULT_CATALOGUE:
            english = {f'en_{k}': v for k, v in asdict(english_text(default)).items()}
            translated = asdict(texts[default.code])
            op.execute(
                fill.bindparams(language=language, code=default.code, **translated, **english)
            )


def downgrade():
    op.drop_table('symptom_translations')
