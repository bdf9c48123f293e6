"""The studio's review inbox (``review_items``) and its record of content edits (``content_changes``).

Revision ID: 0006_studio
Revises: 0003_query_indexes
Create Date: 2026-12-06 18:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_studio'
down_revision = '0005_ratings_attachments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('resolution', sa.String(length=64), nullable=True),
    sa.Column('acted_by', sa.Integer(), nullable=True),
    sa.Column('acted_at', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index('ix_review_items_conversation', ['conversation_id'], unique=False)
        batch_op.create_index('ix_review_items_state', ['state', 'message_id'], unique=False)

    op.create_table('content_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('content_changes', schema=None) as batch_op:
        batch_op.create_index('ix_content_changes_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('content_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_content_changes_created')
    op.drop_table('content_changes')

    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_review_items_state')
        batch_op.drop_index('ix_review_items_conversation')
    op.drop_table('review_items')
