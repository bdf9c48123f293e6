"""Agent skills (``agents.skills``): the teams a waiting conversation is routed by (handoff/routing.py).

A JSON list like ``agents.languages``; existing agents get ``[]`` (no skill: they are offered
conversations by language, then with everyone).

Revision ID: 0009_agent_skills
Revises: 0007_kpi_summary
Create Date: 2026-12-06 21:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_agent_skills'
down_revision = '0008_conversation_facts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skills', sa.Text(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('skills')
