"""Settings read from the environment, each with a documented default.

Every setting here is listed in the README's configuration table. Values are read when the app
is created, so tests and the CLI can change the environment before calling ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from limits import parse_many
from limits.storage import SCHEMES
from limits.strategies import STRATEGIES

from pollserver.core.poll_settings import parse_origin
from pollserver.core.proof_of_work import MAX_BITS, MAX_EXTRA_BITS
from pollserver.core.timestamps import UnknownTimeZone, time_zone

# flask-limiter reads these from app.config; any of them may also come from the environment.
# (Listed rather than matched by prefix so a typo in an env var name is not silently ignored
# by us while being silently ignored by the limiter too.)
LIMITER_SETTINGS: dict[str, type] = {
    "RATELIMIT_ENABLED": bool,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_STORAGE_OPTIONS": dict,
    "RATELIMIT_STRATEGY": str,
    "RATELIMIT_DEFAULT": str,
    "RATELIMIT_DEFAULTS_PER_METHOD": bool,
    "RATELIMIT_APPLICATION": str,
    "RATELIMIT_HEADERS_ENABLED": bool,
    "RATELIMIT_HEADER_LIMIT": str,
    "RATELIMIT_HEADER_REMAINING": str,
    "RATELIMIT_HEADER_RESET": str,
    "RATELIMIT_HEADER_RETRY_AFTER": str,
    "RATELIMIT_HEADER_RETRY_AFTER_VALUE": str,
    "RATELIMIT_SWALLOW_ERRORS": bool,
    "RATELIMIT_IN_MEMORY_FALLBACK": str,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": bool,
    "RATELIMIT_KEY_PREFIX": str,
    "RATELIMIT_FAIL_ON_FIRST_BREACH": bool,
    "RATELIMIT_META": str,
    # pollserver's own limit strings, applied by the views that own them.
    "RATELIMIT_ANSWERS": str,
    "RATELIMIT_PUBLIC": str,
    "RATELIMIT_AUTH_FAILURES": str,
}

PACKAGE_DIRECTORY = Path(__file__).resolve().parent

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting in the environment has a value pollserver cannot use."""


def shipped_folder(name: str) -> Path:
    """A folder that sits at the top of a checkout (``migrations``, ``widget``) and inside the
    package of an installed wheel (pyproject.toml maps it there)."""
    inside = PACKAGE_DIRECTORY / name
    return inside if inside.is_dir() else PACKAGE_DIRECTORY.parent / name


def checkout_seeds_folder() -> str:
    seeds = PACKAGE_DIRECTORY.parent / "seeds"
    in_a_checkout = (PACKAGE_DIRECTORY.parent / "pyproject.toml").is_file()
    return str(seeds) if in_a_checkout and seeds.is_dir() else ""


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def parse_int(name: str, raw: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={raw!r} must be at most {maximum}")
    return value


def parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must be at least 0")
    return value


def parse_public_url(name: str, raw: str) -> str:
    """The service's public origin (scheme://host[:port]), normalised; "" when not set."""
    if not raw.strip():
        return ""
    origin = parse_origin(raw.strip())
    if origin is None:
        raise ConfigError(
            f"{name}={raw!r} must be the origin readers reach pollserver at, "
            "scheme://host[:port] with no path, e.g. https://polls.example.org"
        )
    return origin


def parse_frame_ancestors(name: str, raw: str) -> str:
    """Who may frame a poll's iframe page by default: "*", "'none'", or origins (and 'self')."""
    words = raw.split()
    if words == ["*"] or words == ["'none'"]:
        return words[0]
    if not words or not all(word == "'self'" or parse_origin(word) for word in words):
        raise ConfigError(
            f"{name}={raw!r} must be *, 'none', or origins (scheme://host[:port]) and 'self'"
        )
    return " ".join(word if word == "'self'" else parse_origin(word) for word in words)


def default_public_url(host: str, port: int) -> str:
    """Where a server listening on ``host``:``port`` is reached when no public URL is set:
    itself (a server on every interface is still reached here from its own machine)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def parse_time_zone(name: str, raw: str) -> str:
    try:
        time_zone(raw.strip())
    except UnknownTimeZone as error:
        raise ConfigError(f"{name}: {error}") from None
    return raw.strip()


def parse_option_value(raw: str) -> int | float | str:
    """Storage options are passed to the storage client: numbers must arrive as numbers."""
    raw = raw.strip()
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_or_create_secret_key(instance_path: Path) -> str:
    """The key signing sessions and salting nothing else: generated once, kept beside the data.

    A hard-coded default would let anyone forge admin sessions on a careless deployment.
    """
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two workers start at once, one writes and the other reads what it wrote.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def settings_from_environment(instance_path: Path, environ: dict[str, str] | None = None) -> dict:
    """Build the app config from environment variables over pollserver's defaults."""
    env = os.environ if environ is None else environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'pollserver.sqlite3'}"
    settings: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "TRUSTED_PROXY_COUNT": parse_int(
            "TRUSTED_PROXY_COUNT", env.get("TRUSTED_PROXY_COUNT", "0")
        ),
        "POLLSERVER_PUBLIC_URL": parse_public_url(
            "POLLSERVER_PUBLIC_URL", env.get("POLLSERVER_PUBLIC_URL", "")
        ),
        "POLLSERVER_HOST": env.get("POLLSERVER_HOST", "127.0.0.1"),
        "POLLSERVER_PORT": parse_int(
            "POLLSERVER_PORT", env.get("POLLSERVER_PORT", "8000"), minimum=1, maximum=65535
        ),
        # 0 means "choose": one process on in-memory limits, one per core on shared storage.
        "POLLSERVER_WORKERS": parse_int("POLLSERVER_WORKERS", env.get("POLLSERVER_WORKERS", "0")),
        "POLLSERVER_THREADS": parse_int(
            "POLLSERVER_THREADS", env.get("POLLSERVER_THREADS", "8"), minimum=1
        ),
        # The most time a client has to send a request's headers, and then its body: a client
        # slower than that gets a 408 (or its connection closed) and holds no thread meanwhile.
        "POLLSERVER_READ_SECONDS": parse_int(
            "POLLSERVER_READ_SECONDS",
            env.get("POLLSERVER_READ_SECONDS", "10"),
            minimum=1,
            maximum=60,  # Granian's longest header deadline
        ),
        # A checkout's sample articles; an installed package ships none (then "": no seeding).
        "POLLSERVER_SEEDS_DIR": env.get("POLLSERVER_SEEDS_DIR") or checkout_seeds_folder(),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # The newsroom's time zone: the desk shows and takes times in it; the API speaks UTC.
        "POLLSERVER_TIMEZONE": parse_time_zone(
            "POLLSERVER_TIMEZONE", env.get("POLLSERVER_TIMEZONE", "UTC")
        ),
        "DEMO_PAGES": parse_bool("DEMO_PAGES", env.get("DEMO_PAGES", "true")),
        "POLLSERVER_HSTS_SECONDS": parse_int(
            "POLLSERVER_HSTS_SECONDS", env.get("POLLSERVER_HSTS_SECONDS", "31536000")
        ),
        "POLLSERVER_EMBED_FRAME_ANCESTORS": parse_frame_ancestors(
            "POLLSERVER_EMBED_FRAME_ANCESTORS", env.get("POLLSERVER_EMBED_FRAME_ANCESTORS", "*")
        ),
        "MAX_CONTENT_LENGTH": parse_int(
            "MAX_CONTENT_LENGTH", env.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024 + 64 * 1024))
        ),
        "RESPONDENTS_PER_ADDRESS_PER_DAY": parse_int(
            "RESPONDENTS_PER_ADDRESS_PER_DAY", env.get("RESPONDENTS_PER_ADDRESS_PER_DAY", "50")
        ),
        # Beyond that cap, and for every new reader of a poll whose new readers surge, the work
        # asked (pollserver.core.proof_of_work): bits of PBKDF2 work, about a second on a
        # mid-range phone at 11; 0 asks none (readers beyond the cap are refused until tomorrow).
        "POLLSERVER_PROOF_OF_WORK_BITS": parse_int(
            "POLLSERVER_PROOF_OF_WORK_BITS",
            env.get("POLLSERVER_PROOF_OF_WORK_BITS", "11"),
            minimum=0,
            maximum=MAX_BITS - MAX_EXTRA_BITS,
        ),
        # New readers of one poll in one minute from which everyone new on it is asked for work
        # (for five minutes after); 0: never.
        "POLLSERVER_SURGE_READERS_PER_MINUTE": parse_int(
            "POLLSERVER_SURGE_READERS_PER_MINUTE",
            env.get("POLLSERVER_SURGE_READERS_PER_MINUTE", "600"),
            minimum=0,
        ),
        "RESULTS_CACHE_SECONDS": parse_float(
            "RESULTS_CACHE_SECONDS", env.get("RESULTS_CACHE_SECONDS", "2")
        ),
        "RESULTS_MIN_RESPONDENTS": parse_int(
            "RESULTS_MIN_RESPONDENTS", env.get("RESULTS_MIN_RESPONDENTS", "10")
        ),
        # flask-limiter defaults; every RATELIMIT_* key below can be overridden by the environment.
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Two counters per limit and address (a moving window keeps a timestamp per request:
        # 600 per address per day in Redis), and the cheapest check after fixed windows,
        # which let twice the limit through across a window boundary.
        "RATELIMIT_STRATEGY": "sliding-window-counter",
        # Off: X-RateLimit-* headers cost a storage round trip per request; 429s still say
        # Retry-After (pollserver.rate_limits).
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_KEY_PREFIX": "pollserver",
        "RATELIMIT_ANSWERS": "30/minute;600/day",
        "RATELIMIT_PUBLIC": "300/minute",
        "RATELIMIT_AUTH_FAILURES": "10/minute",
    }
    # Secure (HTTPS-only) session cookies: always when pollserver is reached over HTTPS; also
    # to be forced behind a TLS-terminating proxy (a request over HTTPS gets them anyway).
    settings["SESSION_COOKIE_SECURE"] = (
        parse_bool("SESSION_COOKIE_SECURE", env["SESSION_COOKIE_SECURE"])
        if "SESSION_COOKIE_SECURE" in env
        else settings["POLLSERVER_PUBLIC_URL"].startswith("https:")
    )
    for name, kind in LIMITER_SETTINGS.items():
        if name not in env:
            continue
        raw = env[name]
        if kind is bool:
            settings[name] = parse_bool(name, raw)
        elif kind is dict:
            # Storage options as comma-separated key=value pairs, e.g. "socket_timeout=1".
            pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ConfigError(f"{name}={raw!r} must look like key=value,key=value")
            settings[name] = {key.strip(): parse_option_value(value) for key, value in pairs}
        else:
            settings[name] = raw
    check_limiter_settings(settings)
    return settings


# Settings holding limit strings ("30/minute;600/day"): parsed at start, so a typo stops the start
# instead of silently turning a limit off at the first request.
LIMIT_STRING_SETTINGS = (
    "RATELIMIT_DEFAULT",
    "RATELIMIT_APPLICATION",
    "RATELIMIT_IN_MEMORY_FALLBACK",
    "RATELIMIT_META",
    "RATELIMIT_ANSWERS",
    "RATELIMIT_PUBLIC",
    "RATELIMIT_AUTH_FAILURES",
)


def check_limiter_settings(settings: dict[str, Any]) -> None:
    """The rate limiter's settings, checked at start: its own checks come at the first request
    (a bad limit string then silently stops limiting) or as a traceback from deep inside it."""
    strategy = settings["RATELIMIT_STRATEGY"]
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"RATELIMIT_STRATEGY={strategy!r} is not a strategy (use one of: "
            f"{', '.join(STRATEGIES)})"
        )
    storage_uri = settings["RATELIMIT_STORAGE_URI"]
    scheme = storage_uri.split("://", 1)[0] if "://" in storage_uri else ""
    if scheme not in SCHEMES or scheme.startswith("async+"):
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI={storage_uri!r} is not a rate-limit storage "
            "(e.g. memory:// or redis://host:6379)"
        )
    check_limit_strings(settings)


def check_limit_strings(settings: dict[str, Any]) -> None:
    for name in LIMIT_STRING_SETTINGS:
        value = settings.get(name)
        if not value:
            continue
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f"{name}={value!r} is not a rate limit (e.g. '30/minute;600/day')"
            ) from None


def uses_shared_limit_storage(settings: dict) -> bool:
    return not str(settings.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory://")
