"""Desk notes (issue #19): private notes and tags on conversations, macros, customer links.

Revision ID: 0010_notes_macros_customers
Revises: 0007_kpi_summary
Create Date: 2026-12-06 21:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_notes_macros_customers'
down_revision = '0009_agent_skills'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversation_notes', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_notes_conversation', ['conversation_id', 'id'], unique=False)

    op.create_table('conversation_tags',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=32), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id', 'tag')
    )
    with op.batch_alter_table('conversation_tags', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_tags_tag', ['tag', 'conversation_id'], unique=False)

    op.create_table('macros',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('source_language', sa.String(length=16), nullable=False),
    sa.Column('texts', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.create_index('ix_macros_owner', ['owner_id'], unique=False)

    op.create_table('conversation_customers',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('verified', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    with op.batch_alter_table('conversation_customers', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_customers_customer', ['customer_id', 'verified'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversation_customers', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_customers_customer')
    op.drop_table('conversation_customers')
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.drop_index('ix_macros_owner')
    op.drop_table('macros')
    with op.batch_alter_table('conversation_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_tags_tag')
    op.drop_table('conversation_tags')
    with op.batch_alter_table('conversation_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_notes_conversation')
    op.drop_table('conversation_notes')
