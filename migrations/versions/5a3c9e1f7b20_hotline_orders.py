"""hotline orders: cases.external_ref and api_requests (idempotency keys)

Revision ID: 5a3c9e1f7b20
Revises: 2cefb725af9d
Create Date: 2026-11-30 11:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5a3c9e1f7b20'
down_revision = '2cefb725af9d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_ref', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_external_ref'), ['external_ref'], unique=False)
    op.create_table('api_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key')
    )


def downgrade():
    op.drop_table('api_requests')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_external_ref'))
        batch_op.drop_column('external_ref')
