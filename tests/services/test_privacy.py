"""The daily address salt: one per day, shared by every process, and never in the database."""

from __future__ import annotations

import datetime as dt
import uuid

from pollserver.services.address_salts import (
    SALT_BYTES,
    SALT_DAYS_KEPT,
    SaltsInMemory,
    SaltsInRedis,
)


def test_salts_in_memory_are_one_per_day_and_kept_two_days():
    salts = SaltsInMemory()
    first = dt.date(2026, 11, 30)
    salt = salts.for_day(first)
    assert len(salt) == SALT_BYTES
    assert salts.for_day(first) == salt  # the same all day
    later = [salts.for_day(first + dt.timedelta(days=offset)) for offset in (1, 2)]
    assert len({salt, *later}) == 3  # a new one every day
    assert sorted(salts._salts) == [first + dt.timedelta(days=1), first + dt.timedelta(days=2)]
    assert SALT_DAYS_KEPT == 2


def test_salts_in_redis_are_shared_and_expire_by_themselves(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"pollserver-test-{uuid.uuid4().hex[:8]}"
    one_process, another = SaltsInRedis(client, prefix), SaltsInRedis(client, prefix)
    today = dt.datetime.now(dt.UTC).date()
    salt = one_process.for_day(today)
    assert len(salt) == SALT_BYTES
    assert another.for_day(today) == salt  # whoever came first made it; everyone reads it
    ttl = client.ttl(one_process.key_for(today))
    assert 24 * 3600 < ttl <= SALT_DAYS_KEPT * 24 * 3600  # gone by itself the day after tomorrow
    assert SaltsInRedis(client, "another-app").for_day(today) != salt
    client.delete(one_process.key_for(today))
    client.close()


def test_without_redis_a_process_hashes_with_salts_of_its_own():
    import redis

    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    salts = SaltsInRedis(unreachable, "pollserver")
    today = dt.datetime.now(dt.UTC).date()
    assert salts.for_day(today) == salts.for_day(today)
    assert len(salts.for_day(today)) == SALT_BYTES


def test_the_apps_salts_are_made_with_the_app_not_by_racing_request_threads(app):
    # limits' storage factory failed ("redis 0.0.0") when request threads made it at once.
    from pollserver.rate_limits import ADDRESS_SALTS, address_salts_of

    made = app.extensions[ADDRESS_SALTS]
    assert address_salts_of(app) is made
