"""Poll versions share their public id; scheduled openings; superseded versions; articles found
by their text.

Revision ID: 0002_poll_versions
Revises: 0001_poll_domain
Create Date: 2026-11-30 08:30:00

- ``polls.public_id`` is no longer unique on its own: every version of a poll keeps it, so
  embeds follow the poll to its newest published version. (public id, version) is unique.
  Versions made before this migration keep the ids they were given: embeds may point at them.
- ``polls.open_at``: a draft's scheduled opening (counted from its moment on, like ``close_at``).
- ``polls.superseded_at``: when a newer version replaced this open one; its readers may finish.
- ``articles.content_hash`` is indexed: the same text imported from anywhere is one article.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_poll_versions'
down_revision = '0001_poll_domain'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint('uq_polls_public_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_polls_public_id_version'), ['public_id', 'version']
        )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_articles_content_hash'), ['content_hash'], unique=False
        )


def downgrade():
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_articles_content_hash'))
    # One public id per row again: refuse rather than drop versions and their answers.
    shared = op.get_bind().scalar(
        sa.text("SELECT count(*) - count(DISTINCT public_id) FROM polls")
    )
    if shared:
        raise RuntimeError(
            f"{shared} poll versions share a public id with an earlier version; delete or "
            "archive-and-delete them before going below 0002_poll_versions."
        )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_polls_public_id_version'), type_='unique')
        batch_op.create_unique_constraint('uq_polls_public_id', ['public_id'])
        batch_op.drop_column('superseded_at')
        batch_op.drop_column('open_at')
