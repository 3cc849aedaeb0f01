import subprocess

from support import pollserver_executable


def test_pollserver_help_lists_its_commands(instance_path):
    import os

    result = subprocess.run(
        [pollserver_executable(), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "POLLSERVER_INSTANCE_PATH": str(instance_path)},
    )
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:", 1)[1]
    for name in ("serve", "db"):
        assert f"\n  {name} " in commands
