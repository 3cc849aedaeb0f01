import stat

import pytest

from pollserver import create_app
from pollserver.config import (
    ConfigError,
    default_public_url,
    normalise_database_url,
    settings_from_environment,
)
from pollserver.extensions import limiter


def test_secret_key_is_generated_once_and_kept_private(instance_path, database_url, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"SQLALCHEMY_DATABASE_URI": database_url}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": database_url}).config["SECRET_KEY"]
    assert first == second
    assert len(first) >= 40
    key_file = instance_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_secret_key_from_environment_wins(instance_path, database_url, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (instance_path / "secret_key").exists()


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path):
    settings = settings_from_environment(tmp_path, environ={})
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'pollserver.sqlite3'}"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["POLLSERVER_HOST"] == "127.0.0.1"
    assert settings["POLLSERVER_PORT"] == 8000
    assert settings["TRUSTED_PROXY_COUNT"] == 0
    assert settings["RATELIMIT_ENABLED"] is True


def test_every_limiter_setting_can_come_from_the_environment(tmp_path):
    settings = settings_from_environment(
        tmp_path,
        environ={
            "RATELIMIT_ENABLED": "false",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
            "RATELIMIT_STRATEGY": "fixed-window",
            "RATELIMIT_HEADERS_ENABLED": "no",
            "RATELIMIT_STORAGE_OPTIONS": "socket_timeout=1, socket_connect_timeout=1",
            "RATELIMIT_ANSWERS": "5/minute",
        },
    )
    assert settings["RATELIMIT_ENABLED"] is False
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    assert settings["RATELIMIT_STRATEGY"] == "fixed-window"
    assert settings["RATELIMIT_HEADERS_ENABLED"] is False
    assert settings["RATELIMIT_STORAGE_OPTIONS"] == {
        "socket_timeout": 1,
        "socket_connect_timeout": 1,
    }
    assert settings["RATELIMIT_ANSWERS"] == "5/minute"


def test_ratelimit_enabled_from_environment_reaches_the_limiter(
    instance_path, database_url, monkeypatch
):
    monkeypatch.setenv("RATELIMIT_ENABLED", "false")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["RATELIMIT_ENABLED"] is False
    assert limiter.enabled is False
    monkeypatch.setenv("RATELIMIT_ENABLED", "true")
    create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert limiter.enabled is True


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("RATELIMIT_ENABLED", "maybe", "not a boolean"),
        ("POLLSERVER_PORT", "eighty", "not a whole number"),
        ("TRUSTED_PROXY_COUNT", "-1", "at least 0"),
        ("RATELIMIT_STORAGE_OPTIONS", "socket_timeout", "key=value"),
        ("POLLSERVER_TIMEZONE", "Mars/Olympus_Mons", "not an IANA time zone name"),
        ("POLLSERVER_TIMEZONE", "../../etc/passwd", "not an IANA time zone name"),
    ],
)
def test_bad_settings_are_named_in_a_clear_error(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as raised:
        settings_from_environment(tmp_path, environ={name: value})
    assert name in str(raised.value)
    assert words in str(raised.value)


def test_the_newsroom_time_zone_defaults_to_utc_and_takes_iana_names(tmp_path):
    assert settings_from_environment(tmp_path, environ={})["POLLSERVER_TIMEZONE"] == "UTC"
    chosen = settings_from_environment(tmp_path, environ={"POLLSERVER_TIMEZONE": "Europe/Kyiv"})
    assert chosen["POLLSERVER_TIMEZONE"] == "Europe/Kyiv"


def test_postgres_urls_use_psycopg_3():
    assert normalise_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_trusted_proxy_count_rewrites_the_client_address(app_config):
    from flask import request

    app = create_app({**app_config, "TRUSTED_PROXY_COUNT": 1})

    @app.get("/probe-address")
    def probe_address():
        return {"address": request.remote_addr}

    client = app.test_client()
    forwarded = client.get(
        "/probe-address",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert forwarded.get_json() == {"address": "203.0.113.7"}

    untrusting = create_app(app_config)
    untrusting.add_url_rule("/probe-address", view_func=probe_address)
    direct = untrusting.test_client().get(
        "/probe-address",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert direct.get_json() == {"address": "10.0.0.1"}


def test_each_app_counts_limits_under_its_own_key_prefix(app_config):
    from pollserver.extensions import limiter

    create_app({**app_config, "RATELIMIT_KEY_PREFIX": "first-app"})
    assert limiter._key_prefix == "first-app"
    create_app({**app_config, "RATELIMIT_KEY_PREFIX": "second-app"})
    assert limiter._key_prefix == "second-app"


def test_the_public_url_is_an_origin_or_the_start_stops(tmp_path):
    settings = settings_from_environment(
        tmp_path, {"POLLSERVER_PUBLIC_URL": "https://Polls.Example.org/"}
    )
    assert settings["POLLSERVER_PUBLIC_URL"] == "https://polls.example.org"
    assert settings_from_environment(tmp_path, {})["POLLSERVER_PUBLIC_URL"] == ""
    for wrong in ("polls.example.org", "https://polls.example.org/poll", "ftp://x.example"):
        with pytest.raises(ConfigError) as raised:
            settings_from_environment(tmp_path, {"POLLSERVER_PUBLIC_URL": wrong})
        assert "POLLSERVER_PUBLIC_URL" in str(raised.value)


def test_without_a_public_url_links_name_the_address_served_at(tmp_path):
    assert default_public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert default_public_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert default_public_url("::1", 8000) == "http://[::1]:8000"


def test_session_cookies_are_secure_when_served_over_https_or_told_to(tmp_path):
    assert settings_from_environment(tmp_path, {})["SESSION_COOKIE_SECURE"] is False
    https = {"POLLSERVER_PUBLIC_URL": "https://polls.example.org"}
    assert settings_from_environment(tmp_path, https)["SESSION_COOKIE_SECURE"] is True
    behind_a_proxy = {"SESSION_COOKIE_SECURE": "true"}
    assert settings_from_environment(tmp_path, behind_a_proxy)["SESSION_COOKIE_SECURE"] is True


def test_the_default_frame_ancestors_are_checked(tmp_path):
    def frame_ancestors(raw: str) -> str:
        environ = {"POLLSERVER_EMBED_FRAME_ANCESTORS": raw}
        return settings_from_environment(tmp_path, environ)["POLLSERVER_EMBED_FRAME_ANCESTORS"]

    assert settings_from_environment(tmp_path, {})["POLLSERVER_EMBED_FRAME_ANCESTORS"] == "*"
    assert frame_ancestors("'none'") == "'none'"
    assert frame_ancestors("'self' https://News.example") == "'self' https://news.example"
    for wrong in ("https://x.example; script-src *", "* https://x.example", ""):
        with pytest.raises(ConfigError):
            frame_ancestors(wrong)


def test_a_public_url_on_an_ipv6_address_is_taken(tmp_path):
    environ = {"POLLSERVER_PUBLIC_URL": default_public_url("::1", 8000)}
    assert settings_from_environment(tmp_path, environ)["POLLSERVER_PUBLIC_URL"] == (
        "http://[::1]:8000"
    )
