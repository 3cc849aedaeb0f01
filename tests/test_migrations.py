"""The migrations build exactly the models' schema, and can go down to nothing and back up."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from pollserver import create_app
from pollserver.extensions import db


def schema_differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


def table_names(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def check_migrations_round_trip(app) -> None:
    model_tables = set(db.metadata.tables)
    with app.app_context():
        upgrade()
    assert table_names(app) == model_tables | {"alembic_version"}
    assert schema_differences(app) == []

    with app.app_context():
        downgrade(revision="base")
    assert table_names(app) <= {"alembic_version"}

    with app.app_context():
        upgrade()
    assert schema_differences(app) == []
    with app.app_context():
        db.engine.dispose()


def test_migrations_match_models_on_sqlite(tmp_path, instance_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrated.sqlite3'}"})
    check_migrations_round_trip(app)


@pytest.mark.postgres
def test_migrations_match_models_on_postgresql(postgres_server, instance_path):
    url = postgres_server.create_database("pollserver_migrations")
    try:
        check_migrations_round_trip(create_app({"SQLALCHEMY_DATABASE_URI": url}))
    finally:
        postgres_server.drop_database(url)


def test_an_empty_comparison_is_not_vacuous(tmp_path, instance_path):
    """Guard the guard: a database missing a column must show up as a difference."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'drift.sqlite3'}"})
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN needs_poll")
    differences = schema_differences(app)
    assert any("needs_poll" in repr(difference) for difference in differences)
    with app.app_context():
        db.engine.dispose()
