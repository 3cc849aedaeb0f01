"""Pure rules, testable alone: the standard library and parsing libraries only.

Nothing here knows of Flask, SQLAlchemy or the models; ``import-linter`` (pyproject.toml) keeps it
that way.
"""
