"""The daily address salts leave the database: they now live only where they expire by
themselves (process memory, or Redis with a two-day expiry), so no database dump or backup
holds a salt that could reverse the address hashes stored beside it.

Revision ID: 0005_salts_out
Revises: 0004_desk_sessions
Create Date: 2026-11-30 16:40:00

The salts stored until now are dropped with the table: the hashes made with them can no longer
be reversed by anyone. Today's new readers are hashed with a new salt from the upgrade on (the
daily cap counts afresh from then).
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_salts_out'
down_revision = '0004_desk_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('address_salts')


def downgrade():
    op.create_table(
        'address_salts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('salt', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_address_salts')),
    )
