"""report indexes: the red cases by filing time, and the open steps' covering index with when
each step was made (the periodic report at 1,000,000 cases)

Revision ID: 3b8e5d2c7a41
Revises: 8d3d41c2ca1f
Create Date: 2026-11-30 22:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '3b8e5d2c7a41'
down_revision = '8d3d41c2ca1f'
branch_labels = None
depends_on = None

_OPEN_LIGHTS = ['org_unit_id', 'spec_id', 'assignee_id', 'due_at', 'amber_at', 'clock_stopped_at']


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_red', ['created_at'], unique=False,
                              postgresql_where=sa.text("risk_level = 'red'"), sqlite_where=sa.text("risk_level = 'red'"))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_lights')
        batch_op.create_index('ix_tasks_open_lights', _OPEN_LIGHTS + ['created_at'], unique=False,
                              postgresql_include=['title'], postgresql_where=sa.text("state = 'ready'"),
                              sqlite_where=sa.text("state = 'ready'"))


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_lights')
        batch_op.create_index('ix_tasks_open_lights', _OPEN_LIGHTS, unique=False, postgresql_include=['title'],
                              postgresql_where=sa.text("state = 'ready'"), sqlite_where=sa.text("state = 'ready'"))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_red')
