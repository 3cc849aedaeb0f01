"""Create the poll domain tables: articles, polls and their nodes, respondents and answers,
sharded result counters, daily address salts, API tokens and the audit log.

Revision ID: 0001_poll_domain
Revises:
Create Date: 2026-11-21 22:59:16.840307

Reviewed by hand after autogenerate:
- timestamps are ``DateTime(timezone=True)`` (the models' ``UTCDateTime`` decorates it);
- enums are VARCHAR + CHECK (``native_enum=False``) so new values are plain migrations;
- ``answers`` is indexed by (poll, node) and (poll, time): the results and the hourly series read
  those; ``respondents`` by (poll, address hash) for the per-address cap and by (poll, start time).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_poll_domain'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('address_salts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_address_salts'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('role', sa.Enum('admin', 'moderator', 'analyst', name='token_role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('name', name=op.f('uq_api_tokens_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=280), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('needs_poll', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('slug', name=op.f('uq_articles_slug')),
    sa.UniqueConstraint('source', name=op.f('uq_articles_source'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('poll_public_id', sa.String(length=16), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_audit_events_poll_created', ['poll_public_id', 'created_at'], unique=False)

    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=16), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('block_index', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=280), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'paused', 'closed', 'archived', name='poll_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_version_id', sa.Integer(), nullable=True),
    sa.Column('root_key', sa.String(length=32), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('close_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_polls_article_id_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['previous_version_id'], ['polls.id'], name=op.f('fk_polls_previous_version_id_polls'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls')),
    sa.UniqueConstraint('public_id', name=op.f('uq_polls_public_id'))
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index('ix_polls_article_block', ['article_id', 'block_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_status'), ['status'], unique=False)

    op.create_table('nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('question', 'outcome', name='node_type', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('text', sa.String(length=280), nullable=False),
    sa.Column('yes_key', sa.String(length=32), nullable=True),
    sa.Column('no_key', sa.String(length=32), nullable=True),
    sa.Column('next_key', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_nodes_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sa.UniqueConstraint('poll_id', 'key', name=op.f('uq_nodes_poll_id_key'))
    )
    op.create_table('respondents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_node_key', sa.String(length=32), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_respondents_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_respondents')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_respondents_token_hash'))
    )
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.create_index('ix_respondents_poll_address', ['poll_id', 'address_hash'], unique=False)
        batch_op.create_index('ix_respondents_poll_started', ['poll_id', 'started_at'], unique=False)

    op.create_table('result_counters',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('counter', sa.String(length=100), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_result_counters_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'counter', 'shard', name=op.f('pk_result_counters'))
    )
    op.create_table('answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('node_key', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Enum('yes', 'no', name='answer_value', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_answers_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'], name=op.f('fk_answers_respondent_id_respondents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('respondent_id', 'node_key', name=op.f('uq_answers_respondent_id_node_key'))
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index('ix_answers_poll_answered', ['poll_id', 'answered_at'], unique=False)
        batch_op.create_index('ix_answers_poll_node', ['poll_id', 'node_key'], unique=False)



def downgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_poll_node')
        batch_op.drop_index('ix_answers_poll_answered')

    op.drop_table('answers')
    op.drop_table('result_counters')
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.drop_index('ix_respondents_poll_started')
        batch_op.drop_index('ix_respondents_poll_address')

    op.drop_table('respondents')
    op.drop_table('nodes')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_status'))
        batch_op.drop_index('ix_polls_article_block')

    op.drop_table('polls')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_poll_created')
        batch_op.drop_index(batch_op.f('ix_audit_events_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    op.drop_table('articles')
    op.drop_table('api_tokens')
    op.drop_table('address_salts')
