"""The ``pollserver`` executable as an operator meets it: its version, its help, and a bad
setting stopping it with one line and exit status 2."""

from __future__ import annotations

import importlib.metadata
import subprocess

import pytest

from support import run_pollserver

# Settings an operator could get wrong, and the variable the one line must name.
BAD_SETTINGS = [
    ("DEMO_PAGES", "maybe"),
    ("POLLSERVER_PORT", "abc"),
    ("POLLSERVER_PORT", "70000"),
    ("RESULTS_CACHE_SECONDS", "soon"),
    ("RATELIMIT_ANSWERS", "lots"),
    ("RATELIMIT_PUBLIC", "300 per fortnight"),
    ("RATELIMIT_AUTH_FAILURES", "10/minute;many"),
    ("RATELIMIT_DEFAULT", "fast"),
    ("RATELIMIT_STRATEGY", "leaky-bucket"),
    ("RATELIMIT_STORAGE_URI", "bogus://127.0.0.1"),
]


def test_version_is_pollservers_own(tmp_path):
    result = run_pollserver("--version", instance_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == f"pollserver, version {importlib.metadata.version('pollserver')}"
    )
    assert "Flask" not in result.stdout


def test_help_lists_pollservers_commands_first_and_keeps_flasks_under_dev(tmp_path):
    result = run_pollserver("--help", instance_path=tmp_path)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:", 1)[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.startswith("  ")]
    # pollserver's own commands are what an operator reads first, serving first of all.
    assert listed[:6] == ["serve", "import", "build", "polls", "results", "tokens"]
    assert {"db", "openapi", "dev"} <= set(listed)
    # One line each, none cut short.
    assert "..." not in commands
    for flask_command in ("run", "shell", "routes"):
        assert flask_command not in listed

    # Listing the commands builds no app: no instance folder, no secret key written.
    assert not tmp_path.exists() or not any(tmp_path.iterdir())

    dev = run_pollserver("dev", "--help", instance_path=tmp_path)
    assert dev.returncode == 0, dev.stderr
    for flask_command in ("run", "shell", "routes"):
        assert f"\n  {flask_command} " in dev.stdout


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
@pytest.mark.parametrize("command", [("serve",), ("polls", "list"), ("dev", "routes")])
def test_a_bad_setting_stops_the_start_with_one_line_and_status_2(tmp_path, command, name, value):
    result = run_pollserver(*command, instance_path=tmp_path, **{name: value})
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: configuration: ")
    assert f"{name}={value!r}" in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "pollserver.sqlite3").exists()  # nothing was started or created


def test_an_instance_folder_that_cannot_be_made_is_one_line_too(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_pollserver("serve", instance_path=blocker / "instance")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"Error: instance folder {blocker / 'instance'}: Not a directory "
        "(see POLLSERVER_INSTANCE_PATH)"
    ]


def test_good_limit_strings_are_accepted(tmp_path):
    result = run_pollserver(
        "polls",
        "list",
        instance_path=tmp_path,
        RATELIMIT_ANSWERS="5/minute;100/day",
        RATELIMIT_PUBLIC="1000 per hour",
    )
    assert "configuration" not in result.stderr
    # No schema yet: the command gets as far as the database and says how to make one.
    assert result.returncode == 1
    assert "pollserver db upgrade" in result.stderr


def test_python_dash_m_runs_the_same_command(tmp_path):
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pollserver", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pollserver, version ")
