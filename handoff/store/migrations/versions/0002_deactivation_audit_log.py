"""Agent deactivation (``agents.deactivated_at``) and the privacy audit log (``audit_log``).

Revision ID: 0002_deactivation_audit_log
Revises: 0001_baseline
Create Date: 2026-12-06 16:02:32.503959
"""

from alembic import op
import sqlalchemy as sa


revision = '0002_deactivation_audit_log'
down_revision = '0001_baseline'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_agent', ['agent_id', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_log_created', ['created_at'], unique=False)

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_created')
        batch_op.drop_index('ix_audit_log_agent')

    op.drop_table('audit_log')
