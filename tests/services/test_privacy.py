"""The daily address salt: created once, kept in memory once committed, on every backend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from pollserver.extensions import db
from pollserver.models import AddressSalt
from pollserver.services import address_salts


def test_the_days_salt_is_created_once_and_kept_in_memory_only_once_committed(app, monkeypatch):
    monkeypatch.setattr(address_salts, "_salt_cache", {})
    day = dt.date(2031, 5, 17)
    with app.app_context():
        with db.engine.connect() as connection, connection.begin() as transaction:
            rolled_back = address_salts.salt_for_day(connection, day)
            transaction.rollback()
        with db.engine.begin() as connection:
            created = address_salts.salt_for_day(connection, day)
            # Read again in the same transaction: the same salt, still not in memory.
            assert address_salts.salt_for_day(connection, day) == created
        assert created != rolled_back
        assert day not in address_salts._salt_cache
        with db.engine.begin() as connection:
            assert address_salts.salt_for_day(connection, day) == created  # read, not created again
        address_salts.remember_salt(day, created)
        assert address_salts._salt_cache == {day: created}
        # From memory now: even with the table emptied, the same salt comes back.
        with db.engine.begin() as connection:
            connection.execute(AddressSalt.__table__.delete())
            assert address_salts.salt_for_day(connection, day) == created
            stored = connection.execute(select(func.count()).select_from(AddressSalt)).scalar()
            assert stored == 0
        assert len(created) == address_salts.SALT_BYTES


def test_a_new_days_salt_deletes_those_older_than_two_days(app, monkeypatch):
    monkeypatch.setattr(address_salts, "_salt_cache", {})
    first = dt.date(2031, 5, 1)
    with app.app_context():
        for offset in range(4):
            with db.engine.begin() as connection:
                address_salts.salt_for_day(connection, first + dt.timedelta(days=offset))
        with db.engine.connect() as connection:
            days = connection.execute(select(AddressSalt.day).order_by(AddressSalt.day)).scalars()
            assert list(days) == [first + dt.timedelta(days=2), first + dt.timedelta(days=3)]
