"""org units: population

Each unit's number of residents, for the indicators counted per 10,000 residents (万人成讼率).

Revision ID: b7e2c41d9a05
Revises: 5c8fb29d7ed0
Create Date: 2026-11-25 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c41d9a05'
down_revision = '5c8fb29d7ed0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('population', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_column('population')
