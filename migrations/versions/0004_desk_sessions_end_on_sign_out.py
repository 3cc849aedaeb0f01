"""Desk sessions are kept on the server, so that signing out ends them: a copied session cookie
no longer works once its session has ended.

Revision ID: 0004_desk_sessions
Revises: 0003_built_definition
Create Date: 2026-11-30 16:20:00

Sessions signed in before this upgrade carry no server-side session: their users sign in again.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_desk_sessions'
down_revision = '0003_built_definition'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'desk_sessions',
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['token_id'], ['api_tokens.id'],
            name=op.f('fk_desk_sessions_token_id_api_tokens'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('secret_hash', name=op.f('pk_desk_sessions')),
    )
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_desk_sessions_started_at'), ['started_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_sessions_started_at'))
    op.drop_table('desk_sessions')
