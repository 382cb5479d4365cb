"""report indexes at 1,000,000 cases: the red cases' index holds (on PostgreSQL) when each closed
and its unit; a partial index on the risk assessments in the cases' histories; the steps each
mediator finished by when

Revision ID: 6c1f4a9e2b57
Revises: 3b8e5d2c7a41
Create Date: 2026-12-01 00:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '6c1f4a9e2b57'
down_revision = '3b8e5d2c7a41'
branch_labels = None
depends_on = None

_RED = sa.text("risk_level = 'red'")
_RISK = sa.text("kind IN ('risk_assessed', 'risk_reassessed')")


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_red')
        batch_op.create_index('ix_cases_red', ['created_at'], unique=False,
                              postgresql_include=['closed_at', 'org_unit_id', 'id'],
                              postgresql_where=_RED, sqlite_where=_RED)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_risk', ['case_id', 'at'], unique=False,
                              postgresql_where=_RISK, sqlite_where=_RISK)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_completed_by', ['completed_by', 'completed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_completed_by')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_risk')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_red')
        batch_op.create_index('ix_cases_red', ['created_at'], unique=False, postgresql_where=_RED, sqlite_where=_RED)
