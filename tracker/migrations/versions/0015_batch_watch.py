"""batch watch and regulator reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:20:00.000000

- treatments.product_key and batch_key: the product and batch number normalised for case and
  spacing (tracker/batches.py), so that one batch is one batch however it was typed; filled for
  existing treatments here, indexed for the batch pages and signals (ix_treatments_batch).
  treatments.quarantine_reason: why a treatment was given from a quarantined batch.
- symptoms.spread_sign: a sign the toxin may have spread; set for the default catalogue's five
  spread symptoms by code (difficulty swallowing, breathing, speaking; vision; weakness).
- batch_quarantines, batch_signals: the batch watch (tracker/models/batch.py).
- regulator_reports: what a clinician adds to a case's regulator report; patients.sex and
  date_of_birth, users.profession and clinics.address, which the report names.

Columns are added with ALTER TABLE ... ADD COLUMN (NOT NULL ones with a server default), which
SQLite and PostgreSQL both take: no batch copy of a table that others reference.
"""
from alembic import op
import sqlalchemy as sa

from tracker.batches import batch_key, product_key
from tracker.catalogue import DEFAULT_CATALOGUE


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

SEXES = ('female', 'male', 'other')  # tracker.models.patient.SEXES when this was written
SIGNAL_KINDS = ('spread', 'excess', 'notice')
SIGNAL_OUTCOMES = ('reported', 'quarantined', 'no_concern')
REACTION_OUTCOMES = (
    'recovered', 'recovering', 'not_recovered', 'recovered_with_sequelae', 'fatal', 'unknown'
)
KEY_BATCH = 1000


def _fill_batch_keys(connection):
    """Each existing treatment's keys, a thousand rows a statement, in id order."""
    read = sa.text(
        'SELECT id, product, batch_number FROM treatments WHERE id > :after ORDER BY id LIMIT :n'
    )
    write = sa.text('UPDATE treatments SET product_key = :p, batch_key = :b WHERE id = :id')
    after = 0
    while rows := connection.execute(read, {'after': after, 'n': KEY_BATCH}).all():
        connection.execute(
            write,
            [{'id': id_, 'p': product_key(p), 'b': batch_key(b)} for id_, p, b in rows],
        )
        after = rows[-1][0]


def upgrade():
    op.add_column('clinics', sa.Column('address', sa.Text()))
    op.add_column('users', sa.Column('profession', sa.String(length=80)))
    op.add_column(
        'symptoms',
        sa.Column('spread_sign', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    spread = [d.code for d in DEFAULT_CATALOGUE if d.spread_sign]
    op.execute(
        sa.text('UPDATE symptoms SET spread_sign = :yes WHERE code IN :codes')
        .bindparams(sa.bindparam('codes', expanding=True))
        .bindparams(yes=True, codes=spread)
    )
    op.execute(
        'ALTER TABLE patients ADD COLUMN sex VARCHAR(10)'
        f" CONSTRAINT sex_known CHECK (sex IS NULL OR sex IN {SEXES})"
    )
    op.add_column('patients', sa.Column('date_of_birth', sa.Date()))
    op.add_column(
        'treatments',
        sa.Column('product_key', sa.String(length=120), server_default='', nullable=False),
    )
    op.add_column(
        'treatments',
        sa.Column('batch_key', sa.String(length=60), server_default='', nullable=False),
    )
    op.add_column('treatments', sa.Column('quarantine_reason', sa.Text()))
    _fill_batch_keys(op.get_bind())
    op.create_index(
        'ix_treatments_batch',
        'treatments',
        ['product_key', 'batch_key', 'clinic_id', 'treated_at'],
    )

    op.create_table(
        'batch_quarantines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('product_key', sa.String(length=120), nullable=False),
        sa.Column('batch_key', sa.String(length=60), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('quarantined_by_id', sa.Integer(), nullable=False),
        sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lifted_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id']),
        sa.ForeignKeyConstraint(['quarantined_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'uq_batch_quarantines_in_force',
        'batch_quarantines',
        ['clinic_id', 'product_key', 'batch_key'],
        unique=True,
        sqlite_where=sa.text('lifted_at IS NULL'),
        postgresql_where=sa.text('lifted_at IS NULL'),
    )

    op.create_table(
        'batch_signals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('product_key', sa.String(length=120), nullable=False),
        sa.Column('batch_key', sa.String(length=60), nullable=False),
        sa.Column('product', sa.String(length=120), nullable=False),
        sa.Column('batch_number', sa.String(length=60), nullable=False),
        sa.Column('treatment_ids', sa.JSON(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('close_note', sa.Text(), nullable=True),
        sa.CheckConstraint(f'kind IN {SIGNAL_KINDS}', name='signal_kind_known'),
        sa.CheckConstraint(
            f'outcome IS NULL OR outcome IN {SIGNAL_OUTCOMES}', name='signal_outcome_known'
        ),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id']),
        sa.ForeignKeyConstraint(['closed_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['source_id'], ['batch_signals.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'uq_batch_signals_open',
        'batch_signals',
        ['clinic_id', 'kind', 'product_key', 'batch_key'],
        unique=True,
        sqlite_where=sa.text('closed_at IS NULL'),
        postgresql_where=sa.text('closed_at IS NULL'),
    )
    op.create_index(
        'ix_batch_signals_batch', 'batch_signals', ['product_key', 'batch_key', 'clinic_id']
    )

    op.create_table(
        'regulator_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('seriousness', sa.JSON(), nullable=False),
        sa.Column('outcome', sa.String(length=30), nullable=True),
        sa.Column('other_medicines', sa.Text(), nullable=False),
        sa.Column('reaction_notes', sa.JSON(), nullable=False),
        sa.Column('reported_on', sa.Date(), nullable=True),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(
            f'outcome IS NULL OR outcome IN {REACTION_OUTCOMES}', name='report_outcome_known'
        ),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id']),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('treatment_id'),
    )


def downgrade():
    op.drop_table('regulator_reports')
    op.drop_index('ix_batch_signals_batch', table_name='batch_signals')
    op.drop_index('uq_batch_signals_open', table_name='batch_signals')
    op.drop_table('batch_signals')
    op.drop_index('uq_batch_quarantines_in_force', table_name='batch_quarantines')
    op.drop_table('batch_quarantines')
    op.drop_index('ix_treatments_batch', table_name='treatments')
    postgresql = op.get_bind().dialect.name == 'postgresql'
    if postgresql:
        op.drop_constraint('sex_known', 'patients', type_='check')
    for table, column in (
        ('treatments', 'quarantine_reason'),
        ('treatments', 'batch_key'),
        ('treatments', 'product_key'),
        ('patients', 'date_of_birth'),
        ('patients', 'sex'),
        ('symptoms', 'spread_sign'),
        ('users', 'profession'),
        ('clinics', 'address'),
    ):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')  # SQLite 3.35+ too
