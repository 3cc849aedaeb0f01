"""Polls remember the tree the builder made, so an article's later changes can be merged with an
editor's edits instead of replacing them.

Revision ID: 0003_built_definition
Revises: 0002_poll_versions
Create Date: 2026-11-30 08:30:00

Existing polls get none: nothing then says what an editor changed, so a changed article is
refused for them (reported as a conflict) rather than guessed at; the editor makes the change.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_built_definition'
down_revision = '0002_poll_versions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('built_definition', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_column('built_definition')
