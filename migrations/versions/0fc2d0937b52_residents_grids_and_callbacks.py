"""residents grids and callbacks: submissions, attachments, one-time codes, grids, callback
endpoints; outbox rows with an address, a topic, a case and a time for the next try

Revision ID: 0fc2d0937b52
Revises: 5a3c9e1f7b20
Create Date: 2026-11-30 12:02:26.259531

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0fc2d0937b52'
down_revision = '5a3c9e1f7b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('phone_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_key', sa.String(length=64), nullable=False),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.create_index('ix_phone_codes_client_created', ['client_key', 'created_at'], unique=False)
        batch_op.create_index('ix_phone_codes_phone_created', ['phone_key', 'created_at'], unique=False)

    op.create_table('grids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grids_org_unit_id'), ['org_unit_id'], unique=False)

    op.create_table('callback_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('claims', sa.Text(), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('phone_key', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], ),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], ),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_phone_key'), ['phone_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index('ix_submissions_unit_state', ['org_unit_id', 'state'], unique=False)

    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_submission_id'), ['submission_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_grid_id'), ['grid_id'], unique=False)
        batch_op.create_foreign_key('fk_cases_grid_id_grids', 'grids', ['grid_id'], ['id'])

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('topic', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key('fk_outbox_case_id_cases', 'cases', ['case_id'], ['id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_grid_id'), ['grid_id'], unique=False)
        batch_op.create_foreign_key('fk_users_grid_id_grids', 'grids', ['grid_id'], ['id'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('fk_users_grid_id_grids', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_grid_id'))
        batch_op.drop_column('grid_id')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_case_id_cases', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_case_id'))
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('case_id')
        batch_op.drop_column('topic')
        batch_op.drop_column('address')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_grid_id_grids', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_grid_id'))
        batch_op.drop_column('grid_id')

    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_submission_id'))
        batch_op.drop_index(batch_op.f('ix_attachments_case_id'))

    op.drop_table('attachments')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_unit_state')
        batch_op.drop_index(batch_op.f('ix_submissions_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_submissions_phone_key'))
        batch_op.drop_index(batch_op.f('ix_submissions_created_at'))
        batch_op.drop_index(batch_op.f('ix_submissions_case_id'))

    op.drop_table('submissions')
    op.drop_table('callback_endpoints')
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grids_org_unit_id'))

    op.drop_table('grids')
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_phone_codes_phone_created')
        batch_op.drop_index('ix_phone_codes_client_created')

    op.drop_table('phone_codes')
